import { version } from './version.ts'
import { ConfigError, configSchema, describeSettings, flagOf, loadConfig, type Config } from './config.ts'

/** What the command line asked for. */
export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'serve' | 'migrate'; config: Config }

/** A command line that cannot be run; exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

const settingByFlag = new Map(Object.keys(configSchema.shape).map((key) => [flagOf(key), key]))

/**
 * Reads `[serve|migrate] [--setting value | --setting=value]... [--help] [--version]`.
 * Flags win over the environment; every value is validated once, together.
 */
export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>): Command {
  let subcommand: 'serve' | 'migrate' | undefined
  const fromFlags: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h' || arg === 'help') return { kind: 'help' }
    if (arg === '--version' || arg === '-v' || arg === 'version') return { kind: 'version' }
    if (!arg.startsWith('-')) {
      if (arg !== 'serve' && arg !== 'migrate') throw new UsageError(`unknown command "${arg}"; expected serve or migrate`)
      if (subcommand) throw new UsageError(`more than one command: "${subcommand}" and "${arg}"`)
      subcommand = arg
      continue
    }
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    const key = settingByFlag.get(flag)
    if (!key) throw new UsageError(`unknown option ${flag}; see --help`)
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
    if (value === undefined) throw new UsageError(`${flag} needs a value`)
    fromFlags[key] = value
  }
  return { kind: subcommand ?? 'serve', config: loadConfig({ ...env, ...fromFlags }) }
}

/** The `--help` text: commands and every setting with its flag, env name, default and meaning. */
export function helpText(): string {
  const settings = describeSettings()
  const rows = settings.map((s) => `  ${s.flag} <value>\n      ${s.description} (env ${s.key}, ${s.default === undefined ? 'unset by default' : `default ${JSON.stringify(s.default)}`})`)
  return [
    `chat-server ${version}: real-time chat behind an API gateway`,
    '',
    'Usage: chat-server [serve|migrate] [options]',
    '',
    'Commands:',
    '  serve                       run the server (default); applies migrations first',
    '  migrate                     apply database migrations and exit',
    '',
    'Options (flags win over environment variables):',
    ...rows,
    '  -h, --help                  show this help',
    '  -v, --version               print the version',
    '',
    'Exit status: 0 stopped cleanly, 1 failed at run time, 2 bad command line or setting.',
    '',
  ].join('\n')
}

/** The message printed for a command line that cannot run. */
export function usageMessage(error: UsageError | ConfigError): string {
  return `chat-server: ${error.message}\n`
}

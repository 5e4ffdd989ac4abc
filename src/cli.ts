import { parseArgs, type ParseArgsConfig } from 'node:util'
import { version } from './version.ts'
import { type ConfigError, configSchema, describeSettings, flagOf, loadConfig, type Config } from './config.ts'

/** What the command line asked for. */
export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'serve' | 'migrate'; config: Config }
  | { kind: 'renew-epoch'; config: Config; force: boolean }
  | { kind: 'webhooks'; action: WebhooksAction; config: Config }

/** `webhooks dead` lists dead letters; `webhooks requeue <id>… | all` sends them again. */
type WebhooksAction = { verb: 'dead' } | { verb: 'requeue'; ids: number[] | 'all' }

const subcommands = ['serve', 'migrate', 'renew-epoch', 'webhooks'] as const
type Subcommand = (typeof subcommands)[number]
const isSubcommand = (word: string): word is Subcommand => (subcommands as readonly string[]).includes(word)

/** A command line that cannot be run; exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Each setting as a `--kebab-case` string option, keyed by its setting name. */
const settingKeys = Object.keys(configSchema.shape)
const options = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  force: { type: 'boolean' },
  ...Object.fromEntries(settingKeys.map((key) => [flagOf(key).slice(2), { type: 'string' }])),
} satisfies ParseArgsConfig['options']

/**
 * Reads `[serve|migrate|renew-epoch] [--setting value | --setting=value]... [--help] [--version]`.
 * Flags win over the environment; every value is validated once, together.
 */
export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>): Command {
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
  } catch (error) {
    // node:util names the option and what was wrong (unknown, or missing its value).
    throw new UsageError(`${(error instanceof Error ? error.message : String(error)).split('. ')[0]}; see --help`)
  }
  const { values, positionals } = parsed
  if (values.help || positionals[0] === 'help') return { kind: 'help' }
  if (values.version || positionals[0] === 'version') return { kind: 'version' }
  const subcommand = positionals[0] ?? 'serve'
  if (!isSubcommand(subcommand)) throw new UsageError(`unknown command "${subcommand}"; expected ${subcommands.join(', ')}`)
  const action = subcommand === 'webhooks' ? webhooksAction(positionals.slice(1)) : null
  if (!action && positionals.length > 1) throw new UsageError(`more than one command: ${positionals.map((p) => `"${p}"`).join(' and ')}`)
  const fromFlags: Record<string, string> = {}
  for (const key of settingKeys) {
    const value = (values as Record<string, string | boolean | undefined>)[flagOf(key).slice(2)]
    if (typeof value === 'string') fromFlags[key] = value
  }
  if (values.force && subcommand !== 'renew-epoch') throw new UsageError('--force is only for renew-epoch')
  const config = loadConfig({ ...env, ...fromFlags })
  if (action) return { kind: 'webhooks', action, config }
  if (subcommand === 'renew-epoch') return { kind: 'renew-epoch', config, force: values.force === true }
  return { kind: subcommand as 'serve' | 'migrate', config }
}

function webhooksAction(words: string[]): WebhooksAction {
  const [verb, ...rest] = words
  if (verb === 'dead' && rest.length === 0) return { verb: 'dead' }
  if (verb === 'requeue' && rest.length === 1 && rest[0] === 'all') return { verb: 'requeue', ids: 'all' }
  if (verb === 'requeue' && rest.length > 0 && rest.every((w) => /^\d{1,15}$/.test(w))) return { verb: 'requeue', ids: rest.map(Number) }
  throw new UsageError('expected "webhooks dead", "webhooks requeue <id>…" or "webhooks requeue all"')
}

/** The `--help` text: commands and every setting with its flag, env name, default and meaning. */
export function helpText(): string {
  const settings = describeSettings()
  const rows = settings.map((s) => `  ${s.flag} <value>\n      ${s.description} (env ${s.key}, ${s.default === undefined ? 'unset by default' : `default ${JSON.stringify(s.default)}`})`)
  return [
    `chat-server ${version}: real-time chat behind an API gateway`,
    '',
    'Usage: chat-server [serve|migrate|renew-epoch|webhooks …] [options]',
    '',
    'Commands:',
    '  serve                       run the server (default); applies migrations first',
    '  migrate                     apply database migrations and exit',
    '  renew-epoch [--force]       draw a new storage epoch (after restoring a backup); refused while',
    '                              a server runs on the database (--force: the listed ones are known to be gone)',
    '  webhooks dead               list dead webhook events (JSON lines): id, type, attempts, last error',
    '  webhooks requeue <id>…|all  send dead webhook events again (servers may be running)',
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

/**
 * Builds dist/chat-server: one executable carrying the runtime, the code, the migrations and
 * every static asset it serves. It ignores stray .env and bunfig.toml files where it runs:
 * settings come from its flags and the environment only.
 *
 *   bun run build [--outfile dist/chat-server]
 */
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { outfile: { type: 'string', default: 'dist/chat-server' } } })

const started = performance.now()
const result = await Bun.build({
  // The thumbnail worker is an entrypoint of its own: a Worker loads it by URL from inside the binary.
  entrypoints: [`${import.meta.dir}/src/index.ts`, `${import.meta.dir}/src/uploads/thumbnail-worker.ts`, `${import.meta.dir}/src/store/checkpoint-worker.ts`],
  target: 'bun',
  // Identifiers stay readable so production stack traces name real functions.
  minify: { whitespace: true, syntax: true, identifiers: false },
  compile: {
    outfile: values.outfile,
    autoloadDotenv: false,
    autoloadBunfig: false,
  },
  define: { 'process.env.NODE_ENV': '"production"' },
})
if (!result.success) {
  for (const log of result.logs) console.error(log)
  process.exit(1)
}
const size = Bun.file(values.outfile).size
console.log(`built ${values.outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${Math.round(performance.now() - started)} ms`)

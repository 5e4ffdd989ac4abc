// Builds @gateway-chat/client into dist/: index.js (minified ESM, no dependencies), index.js.map
// (its source map, the TypeScript sources inside it, so a stack trace or a debugger shows them)
// and index.d.ts (one self-contained file: the protocol types printed as plain object types, so
// neither zod nor the server's sources are needed to use it). Prints the size; fails over the budget.
// Usage: bun client/build.ts (npm runs it as the package's `prepare`: on `npm pack` and when a
// project installs this folder). It needs the repository's dependencies: bun, typescript and the
// packages the server's schemas import.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import ts from 'typescript'

const here = import.meta.dir
const src = join(here, 'src')
const dist = join(here, 'dist')
/** min+gzip budget of index.js (what a page downloads; the source map is fetched only by developer tools). */
const BUDGET_BYTES = 10 * 1024

/** Bundles and minifies the library, with a linked source map (index.js.map); returns its gzipped size. */
async function buildScript(): Promise<{ minified: number; gzipped: number }> {
  const built = await Bun.build({ entrypoints: [join(src, 'index.ts')], outdir: dist, naming: 'index.js', target: 'browser', format: 'esm', minify: true, sourcemap: 'linked' })
  if (!built.success) throw new AggregateError(built.logs, 'the client did not bundle')
  const code = readFileSync(join(dist, 'index.js'))
  // Anything imported at run time would be a dependency (zod, say, if a type import slipped).
  if (/\bimport\s*[\w*{("']/.test(code.toString())) throw new Error('dist/index.js imports a module: the client must have no runtime dependencies')
  return { minified: code.length, gzipped: Bun.gzipSync(code).length }
}

/** Prints a JSON-shaped type in full, naming the exported aliases it contains. */
function typePrinter(checker: ts.TypeChecker, names: Map<ts.Type, string>) {
  const plain = ts.TypeFlags.String | ts.TypeFlags.Number | ts.TypeFlags.Boolean | ts.TypeFlags.Null | ts.TypeFlags.Undefined | ts.TypeFlags.Unknown | ts.TypeFlags.Never | ts.TypeFlags.Literal
  const print = (type: ts.Type, indent: string, top?: string): string => {
    const name = names.get(type)
    if (name && name !== top) return name
    if (type.isUnion()) {
      const parts = type.types.map((t) => print(t, indent))
      const bool = parts.includes('true') && parts.includes('false')
      const nullish = (p: string) => (p === 'null' || p === 'undefined' ? 1 : 0)
      return [...new Set(parts.map((p) => (bool && (p === 'true' || p === 'false') ? 'boolean' : p)))].sort((a, b) => nullish(a) - nullish(b)).join(' | ')
    }
    if (type.flags & plain) return checker.typeToString(type)
    if (checker.isArrayType(type)) {
      const element = print(checker.getTypeArguments(type as ts.TypeReference)[0]!, indent)
      return /[|&]/.test(element) && !element.startsWith('{') ? `(${element})[]` : `${element}[]`
    }
    if (type.flags & ts.TypeFlags.Object && checker.getSignaturesOfType(type, ts.SignatureKind.Call).length === 0) {
      const inner = `${indent}  `
      const lines = checker.getPropertiesOfType(type).map((p) => {
        const key = /^[A-Za-z_$][\w$]*$/.test(p.name) ? p.name : JSON.stringify(p.name)
        return `${inner}${key}${p.flags & ts.SymbolFlags.Optional ? '?' : ''}: ${print(checker.getTypeOfSymbol(p), inner)};`
      })
      for (const info of checker.getIndexInfosOfType(type)) lines.push(`${inner}[key: ${checker.typeToString(info.keyType)}]: ${print(info.type, inner)};`)
      return `{\n${lines.join('\n')}\n${indent}}`
    }
    throw new Error(`types.ts: cannot print ${checker.typeToString(type)} as a plain type`)
  }
  return print
}

/** types.ts as declarations of plain types, with their doc comments. */
function flattenTypes(program: ts.Program): string {
  const checker = program.getTypeChecker()
  const file = program.getSourceFile(join(src, 'types.ts'))!
  const aliases = checker.getExportsOfModule(checker.getSymbolAtLocation(file)!)
  const names = new Map(aliases.map((a) => [checker.getDeclaredTypeOfSymbol(a), a.name] as const))
  const print = typePrinter(checker, names)
  return aliases
    .map((alias) => {
      const declaration = alias.declarations![0]!
      const docs = (ts.getLeadingCommentRanges(file.text, declaration.pos) ?? []).map((r) => file.text.slice(r.pos, r.end)).filter((c) => c.startsWith('/**'))
      return `${docs.join('\n')}${docs.length ? '\n' : ''}export type ${alias.name} = ${print(checker.getDeclaredTypeOfSymbol(alias), '', alias.name)};\n`
    })
    .join('\n')
}

/**
 * One declaration file: tsc's declarations of every module but types.ts, their imports of each
 * other removed, `export` kept only on what index.ts exports, and the flattened types.
 */
function buildDeclarations(): string {
  const config = ts.getParsedCommandLineOfConfigFile(join(here, '..', 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => console.error(d.messageText) })!
  const program = ts.createProgram({ rootNames: [join(src, 'index.ts')], options: { ...config.options, noEmit: false, declaration: true, emitDeclarationOnly: true } })
  const outputs = new Map<string, string>()
  const write = (fileName: string, text: string) => outputs.set(relative(src, fileName).replace(/\.d\.ts$/, ''), text)
  // Only the client's own files: emitting the whole program would also declare every server module
  // its types import, checked in full and thrown away (half the build's time).
  const own = program.getSourceFiles().filter((file) => file.fileName.startsWith(`${src}/`))
  const problems = own.flatMap((file) => program.emit(file, write, undefined, true).diagnostics).filter((d) => d.file?.fileName.startsWith(src))
  if (problems.length > 0) throw new Error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => here, getNewLine: () => '\n' }))

  const index = outputs.get('index')!
  const publicNames = new Set<string>()
  for (const [, list] of index.matchAll(/export (?:type )?\{([^}]*)\} from/g)) for (const item of list!.split(',')) publicNames.add(item.replace(/\btype\b/, '').trim())
  for (const [, name] of index.matchAll(/export (?:declare )?(?:function|interface|class|type|const) (\w+)/g)) publicNames.add(name!)

  const parts = [flattenTypes(program)]
  for (const [name, text] of outputs) {
    if (name === 'types') continue
    parts.push(
      text
        .replace(/^import [^;]*;\n/gm, '')
        .replace(/^export (?:type )?(?:\*|\{[^}]*\}) from [^;]*;\n/gm, '')
        .replace(/^export \{\};\n/gm, '')
        .replace(/import\("[^"]*"\)\./g, '')
        .replace(/^export ((?:declare )?(?:abstract )?(?:function|interface|class|type|const) (\w+))/gm, (whole, rest: string, id: string) => (publicNames.has(id) ? whole : rest)),
    )
  }
  return `${parts.join('\n')}\nexport {};\n`
}

/** Compiles a consumer against the declarations alone (no DOM, no Bun, no server): they must stand by themselves. */
function checkDeclarations(declarations: string, runtimeExports: string[]): void {
  if (/\bimport\b/.test(declarations.replace(/\/\*[\s\S]*?\*\//g, ''))) throw new Error('index.d.ts still imports something')
  for (const [, name] of declarations.matchAll(/^export declare (?:abstract )?(?:function|class|const) (\w+)/gm)) {
    if (!runtimeExports.includes(name!)) throw new Error(`index.d.ts declares ${name}, which index.js does not export`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'client-dts-'))
  try {
    writeFileSync(join(dir, 'index.d.ts'), declarations)
    writeFileSync(
      join(dir, 'use.ts'),
      "import { createChatClient, type Message } from './index.js'\nconst chat = createChatClient({ baseUrl: 'http://localhost' })\nexport const sent: Promise<Message> = chat.room(1).send('hi')\n",
    )
    const program = ts.createProgram([join(dir, 'use.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts'],
      types: [],
    })
    const problems = ts.getPreEmitDiagnostics(program)
    if (problems.length > 0) throw new Error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Builds dist/ and returns the sizes of index.js. */
export async function buildClient(): Promise<{ minified: number; gzipped: number }> {
  rmSync(dist, { recursive: true, force: true })
  mkdirSync(dist, { recursive: true })
  const size = await buildScript()
  if (size.gzipped > BUDGET_BYTES) throw new Error(`index.js is ${size.gzipped} bytes min+gzip, over the ${BUDGET_BYTES}-byte budget`)
  const declarations = buildDeclarations()
  checkDeclarations(declarations, Object.keys(await import(join(dist, 'index.js'))))
  writeFileSync(join(dist, 'index.d.ts'), declarations)
  return size
}

if (import.meta.main) {
  const { minified, gzipped } = await buildClient()
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`
  console.log(`${relative(process.cwd(), join(dist, 'index.js'))}: ${kb(minified)} minified, ${kb(gzipped)} min+gzip (budget ${kb(BUDGET_BYTES)}); index.js.map and index.d.ts beside it`)
}

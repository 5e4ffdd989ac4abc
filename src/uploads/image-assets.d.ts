// WebAssembly codecs imported with `with { type: 'file' }` arrive as a path (inside the binary: under /$bunfs/).
declare module '*.wasm' {
  const path: string
  export default path
}

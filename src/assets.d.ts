// Files imported with `with { type: 'text' }` (migrations) arrive as strings.
declare module '*.sql' {
  const text: string
  export default text
}

// Files imported with `with { type: 'file' }` arrive as a path (inside the binary: under /$bunfs/).
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  const path: string
  export default path
}
declare module 'swagger-ui-dist/swagger-ui.css' {
  const path: string
  export default path
}
declare module 'swagger-ui-dist/favicon-32x32.png' {
  const path: string
  export default path
}

// Files imported with `with { type: 'text' }` (migrations) arrive as strings.
declare module '*.sql' {
  const text: string
  export default text
}

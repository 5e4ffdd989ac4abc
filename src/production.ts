/**
 * Production mode for the libraries that read NODE_ENV when they load (Elysia then builds
 * validation errors without echoing, or pretty-printing, the invalid input). Imported first.
 */
process.env.NODE_ENV = 'production'

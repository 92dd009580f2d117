import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'example-app/public/build/**', 'benchmark/uws/**', 'benchmark/results/**', 'test/artifacts/**', 'test/docs/.snippets/**']
  }),
  {
    rules: {
      // TypeBox's idiom: a schema and its static type share one name (`PingMessage`),
      // and so do our code tables (`ErrorCode` the object, `ErrorCode` the union).
      '@typescript-eslint/no-redeclare': 'off'
    }
  }
]

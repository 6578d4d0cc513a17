import base from '@jobgate/eslint-config';

export default [
  ...base,
  {
    // This package is only tests and their fixtures: API responses and WebSocket messages are read
    // as untyped JSON on purpose, because asserting their shape is what the tests do. (The no-unsafe-*
    // rules, type-aware, are off for the same files in .oxlintrc.json.)
    files: ['src/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
];

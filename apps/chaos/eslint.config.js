import base from '@jobgate/eslint-config';

export default [
  ...base,
  {
    // This package is only tests and their fixtures: API responses and WebSocket messages are read
    // as untyped JSON on purpose, because asserting their shape is what the tests do.
    files: ['src/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
];

import base from '@jobgate/eslint-config';

export default [
  ...base,
  {
    // Tests read JSON responses as `any` on purpose: asserting their shape is the test.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'src/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
];

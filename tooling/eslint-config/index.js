// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The rules that need no type information. Type-aware rules matter here too (the job system is
 * async Redis and HTTP everywhere, and a floating promise is a lost job event or an unhandled
 * rejection), but they run in oxlint's type-aware pass (`oxlint.json` next to this file, on
 * TypeScript 7): typescript-eslint built a TypeScript 5.9 program per package for them, most of a
 * package's lint time. Each package's `lint` script runs both: `eslint . && oxlint --type-aware`.
 * Formatting is Prettier's job, not lint's.
 */
export default tseslint.config(
  { ignores: ['**/dist/**', '**/.turbo/**', '**/.test-results/**', '**/coverage/**', '**/*.lua'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts', '**/bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    // TypeScript (checkJs) knows Node's globals; ESLint's no-undef does not.
    rules: { 'no-undef': 'off' },
  },
);

// ESLint for the whole repo (app, tests, the operating tool): `npm run lint`.
// Kept under .config/ because the repo's top level is fixed by the design.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'app/dist/**', 'dist/**', '.local/**', 'test/results/**', '**/*.js', '**/*.lua'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `any` is allowed where JSON of unknown shape is parsed in tests; elsewhere avoid it.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  // Plain Node.js scripts (the consumer project's tiny app, the starter app): Node's globals.
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', fetch: 'readonly' } },
  },
  // Dependencies point one way: tests import the tool and the app, never the reverse.
  {
    files: ['scripts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/test/**'], message: 'the tool never imports tests' }] },
      ],
    },
  },
  {
    files: ['app/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['**/test/**', '**/scripts/**'], message: 'the app imports neither tests nor the tool' }],
        },
      ],
    },
  },
);

// ESLint (typescript-eslint) for the whole repository, with the architecture's import boundaries:
// the engine runs in Node, workers and the page alike, so it never imports the app, the workers or
// the CLI; the app never imports the CLI. `npm test` runs it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const outside = (...dirs) => dirs.map((d) => ({ group: [`**/${d}/**`, `**/${d}`], message: `See eslint.config.js: this layer may not import ${d}/.` }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'public/**', '.cache/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', globalThis: 'readonly' } },
    // A leading underscore marks a value taken only for its position (a destructured tuple, a callback's argument).
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }] },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...outside('app', 'workers', 'cli'), { group: ['react', 'react-dom', 'zustand', 'recharts'], message: 'The engine is framework-free.' }] }] },
  },
  {
    files: ['src/app/**/*.ts', 'src/app/**/*.tsx'],
    rules: { 'no-restricted-imports': ['error', { patterns: outside('cli') }] },
  },
  {
    // A slice's state lives in its store: what changes belongs to the store instance (its closure),
    // never to the module, which every store (and every test's store) would share.
    files: ['src/app/store/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "Program > VariableDeclaration[kind='let'], Program > ExportNamedDeclaration > VariableDeclaration[kind='let']", message: 'No module-level mutable state in the store: keep it in the slice creator.' },
      ],
    },
  },
);

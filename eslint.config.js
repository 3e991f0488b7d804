// The linter: ESLint's recommended rules and typescript-eslint's recommended rules, nothing turned
// off. Plain-JS files (bench/, scripts/, the monitor's worker) run on Node or Deno, so they get Node's
// globals; TypeScript files are checked for undefined names by tsc itself.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'models/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
);

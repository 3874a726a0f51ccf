// Lint: typescript-eslint's recommended rules on top of `tsc --noEmit` (run by `npm run lint`).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['src/gen/**', 'dist/**', 'node_modules/**', 'bench/out/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);

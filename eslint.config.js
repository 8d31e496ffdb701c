import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.data/',
      'src/generated/',
      'rest-compat/generated/',
      'coverage/',
      '*.config.ts',
      '*.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-control-regex': 'off',
      'no-console': 'error',
      'no-process-env': 'error',
    },
  },
  {
    // Configuration is parsed once; tests, tools and benchmarks may read their own switches.
    files: ['src/infra/config.ts', 'test/**', 'bench/**', 'scripts/**', 'codegen.ts', 'vitest.config.ts'],
    rules: { 'no-process-env': 'off', 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/modules/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['graphql', 'graphql-*', '@pothos/*', 'ws', 'fastify', '@fastify/*'],
              message: 'Services are transport-free.',
            },
            { group: ['**/rest-compat/**', '**/schema/**', '**/http/**'], message: 'Services are transport-free.' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Error']", message: 'Throw an AppError from the registry.' },
      ],
    },
  },
  {
    files: ['**/index.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'index files re-export nothing' },
        { selector: 'ExportNamedDeclaration[source]', message: 'index files re-export nothing' },
      ],
    },
  },
  {
    files: ['schema/**/*.ts', 'rest-compat/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.property.name=/^(create|createMany|update|updateMany|upsert|delete|deleteMany)$/][callee.object.type='MemberExpression']",
          message: 'Writes go through services.',
        },
      ],
    },
  },
);

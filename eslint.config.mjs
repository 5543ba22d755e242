// ESLint with typescript-eslint. Floating promises are errors everywhere; workflow code must
// stay deterministic, so it may not import Node built-ins or any I/O library.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

// One way per kind of access (docs/architecture.md): Prisma reads, lib/sql.ts writes. A write
// through a Prisma model delegate (its type is declared in generated/prisma), a raw execute or
// an interactive transaction on the client is an error outside tests.
const PRISMA_WRITES = new Set([
  'create',
  'createMany',
  'createManyAndReturn',
  'update',
  'updateMany',
  'updateManyAndReturn',
  'upsert',
  'delete',
  'deleteMany',
]);
const PRISMA_CLIENT_WRITES = new Set(['$executeRaw', '$executeRawUnsafe', '$transaction']);
const declaredByPrisma = (type) =>
  (type.getSymbol()?.getDeclarations() ?? []).some((d) => /[\\/]generated[\\/]prisma[\\/]/.test(d.getSourceFile().fileName));
const noPrismaWrites = {
  meta: {
    type: 'problem',
    docs: { description: 'writes go through lib/sql.ts (explicit pg transactions), never through Prisma' },
    messages: {
      write: 'Prisma write `{{name}}`: write through lib/sql.ts (inTransaction / runStatement / runCount); Prisma is for typed reads',
    },
    schema: [],
  },
  create(context) {
    const services = context.sourceCode.parserServices;
    return {
      MemberExpression(node) {
        if (node.computed || node.property.type !== 'Identifier') return;
        const name = node.property.name;
        if (PRISMA_CLIENT_WRITES.has(name)) {
          context.report({ node: node.property, messageId: 'write', data: { name } });
        } else if (PRISMA_WRITES.has(name) && services?.program) {
          const type = services.getTypeAtLocation(node.object);
          if (declaredByPrisma(type)) context.report({ node: node.property, messageId: 'write', data: { name } });
        }
      },
    };
  },
};
const accessPlugin = { rules: { 'no-prisma-writes': noPrismaWrites } };
const noPrismaWritesConfig = { plugins: { access: accessPlugin }, rules: { 'access/no-prisma-writes': 'error' } };

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'generated/',
      'dist/',
      '.stack*/',
      'coverage/',
      'eslint.config.mjs',
      'jest.config.js',
      '.dependency-cruiser.cjs',
      // Code that breaks the lint rules on purpose; test/unit/layers.test.ts lints it.
      'test/fixtures/lint/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflow code must be deterministic: no Node built-ins' })),
          patterns: [
            { group: ['@prisma/*', 'prisma', '**/generated/**', 'pg'], message: 'workflows may not touch the database' },
            { group: ['kafkajs'], message: 'workflows may not talk to Kafka' },
            { group: ['express'], message: 'workflows may not serve HTTP' },
            { group: ['**/activities/**'], allowTypeImports: true, message: 'import activities as types only' },
          ],
        },
      ],
    },
  },
  // Tests may write their fixtures as they like; the fixture of the rule shows it failing.
  { files: ['**/*.ts', '**/*.tsx'], ignores: ['test/**'], ...noPrismaWritesConfig },
  { files: ['test/fixtures/lint/**/*.ts'], ...noPrismaWritesConfig },
);

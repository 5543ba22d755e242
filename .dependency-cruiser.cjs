/**
 * Layer rules, checked by `npm run lint:deps` (part of `npm test`). The layers, from the
 * bottom: lib (plumbing with no business) -> services (one folder per context; plumbing
 * shared by contexts in services/platform, which imports no context; contexts meet only at
 * each other's contract.ts) -> activities (Temporal adapters) / api (HTTP
 * adapters) / workflows -> app (processes). Nothing imports upward, nothing is circular.
 */
const fs = require('node:fs');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles (types included) make modules impossible to read alone.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lib-is-the-bottom',
      severity: 'error',
      comment: 'lib/ knows no business context and no adapter.',
      from: { path: '^lib/' },
      to: { path: '^(services|activities|api|app|workflows|scripts|test)/' },
    },
    {
      name: 'services-know-no-adapters',
      severity: 'error',
      comment: 'Domain code never imports Temporal activities, HTTP routes, workflows or processes.',
      from: { path: '^services/' },
      to: { path: '^(activities|api|app|workflows|scripts|test)/' },
    },
    {
      name: 'contexts-meet-at-contracts',
      severity: 'error',
      comment:
        "A context (services/<ctx>/) uses the platform, lib and other contexts' public modules, never their insides. Public: " +
        'contract.ts; the orders context also publishes its Temporal search-attribute keys and task-queue naming.',
      from: { path: '^services/([^/]+)/', pathNot: '^services/platform/' },
      to: {
        path: '^services/',
        pathNot: [
          '^services/$1/',
          '^services/platform/',
          '^services/[^/]+/contract\\.ts$',
          '^services/orders/(search-attributes|task-queues)\\.ts$',
        ],
      },
    },
    {
      name: 'platform-knows-no-context',
      severity: 'error',
      comment: 'services/platform (outbox, relay, messaging, dlq) is plumbing every context shares: it imports none of them.',
      from: { path: '^services/platform/' },
      to: { path: '^services/(?!platform/)' },
    },
    {
      name: 'contracts-import-nothing-at-runtime',
      severity: 'error',
      comment: 'Contracts are pure names and types (workflow code imports them); type-only imports are fine.',
      from: { path: '^services/[^/]+/contract\\.ts$' },
      to: { dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'adapters-stay-apart',
      severity: 'error',
      comment: 'Activities and the API are siblings: each adapts services, neither uses the other.',
      from: { path: '^(activities|api)/' },
      to: { path: '^(app|scripts|test|workflows)/' },
    },
    { name: 'activities-not-api', severity: 'error', from: { path: '^activities/' }, to: { path: '^api/' } },
    { name: 'api-not-activities', severity: 'error', from: { path: '^api/' }, to: { path: '^activities/' } },
    {
      name: 'workflows-import-contracts-and-types',
      severity: 'error',
      comment: 'Workflow code is deterministic: contracts, search-attribute keys and activity types only (eslint bans I/O too).',
      from: { path: '^workflows/' },
      to: { path: '^(lib|api|app|scripts|test)/|^services/(?!.+/(contract|search-attributes)\\.ts$)', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-test-code-in-production',
      severity: 'error',
      from: { path: '^(lib|services|activities|api|app|workflows|scripts)/' },
      to: { path: '^test/' },
    },
    // The app / local-stack boundary (replaces a regex scan in test/unit/config.test.ts).
    {
      name: 'app-code-never-imports-the-local-stack',
      severity: 'error',
      comment:
        'The local stack (scripts/stack/: its configuration, servers, CLIs) is for developers and tests; no app process may depend on it.',
      from: { path: '^(lib|services|activities|api|app|workflows)/' },
      to: { path: '^scripts/stack/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(generated|node_modules|dist|\\.stack)/|^test/fixtures/layers/' },
    tsPreCompilationDeps: true,
    // The repo's tsconfig; the rule test runs these rules over a fixture tree that has none.
    ...(fs.existsSync('tsconfig.json') ? { tsConfig: { fileName: 'tsconfig.json' } } : {}),
    moduleSystems: ['cjs', 'es6'],
  },
};

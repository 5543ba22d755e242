/**
 * The problem catalogue of docs/problems.md, rendered from the declarations
 * (api/problem-catalog.ts): an index, then one section per problem anchored by its slug.
 * `npm run config:docs` writes it (a generated part, scripts/config-docs.ts) and
 * test/unit/docs.test.ts checks it is current.
 */
import { PROBLEMS, type ProblemEntry } from '../api/problem-catalog';

const cell = (text: string) => text.replace(/\|/g, '\\|');

function section(p: ProblemEntry): string[] {
  const { code, status, title, when, action, retryable } = p.kind;
  return [
    `## ${p.slug}`,
    '',
    '| code | status | title | retry |',
    '|---|---|---|---|',
    `| \`${code}\` | ${status} | ${cell(title)} | ${retryable ? 'yes, after `Retry-After`' : 'no'} |`,
    '',
    `- **When:** ${when}.`,
    `- **What to do:** ${action}.`,
    `- \`type\`: \`${p.type}\` (declared in \`${p.source}\`)`,
  ];
}

export function renderProblemCatalogue(): string {
  const index = PROBLEMS.map((p) => `| ${p.kind.status} | [\`${p.kind.code}\`](#${p.slug}) | ${cell(p.kind.title)} |`);
  return [['| status | code | title |', '|---|---|---|', ...index].join('\n'), ...PROBLEMS.map((p) => section(p).join('\n'))].join('\n\n');
}

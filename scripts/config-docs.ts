/**
 * npm run config:docs: rewrites the generated parts of docs/ from their declarations: the
 * configuration tables of docs/configuration.md (lib/config.ts and scripts/stack/config.ts)
 * the command blocks of docs/operations/runbook.md (scripts/operator-commands.ts) and the
 * problem catalogue of docs/problems.md (api/problem-catalog.ts, scripts/problem-docs.ts).
 * `--check` only reports whether they are current (exit 1 if not); test/unit/docs.test.ts
 * checks the same. A generated part sits between `<!-- generated:NAME ... -->` and
 * `<!-- /generated:NAME -->`; edit the declaration, not the text between the markers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { APP_VARIABLES, repoRoot } from '../lib/config';
import { fileVariable, readableMs, type DeclaredVariables, type Variable } from '../lib/env-vars';
import { renderCommands, TCTL_COMMANDS, TEMPORAL_COMMANDS } from './operator-commands';
import { renderProblemCatalogue } from './problem-docs';
import { STACK_VARIABLES } from './stack/config';

/** Every declared table, with the heading and note docs/configuration.md gives it. */
export const TABLES: { table: DeclaredVariables; heading: string; note: string }[] = [
  {
    table: APP_VARIABLES,
    heading: 'App processes',
    note: 'Read by every app process (`tsx app/main.ts <role>`), declared in `lib/config.ts`.',
  },
  {
    table: STACK_VARIABLES,
    heading: 'Local stack',
    note: "Read only by the stack manager (`npm run stack`, `npm start`, the tests' setup), declared in `scripts/stack/config.ts`; no app process reads them.",
  },
];

function defaultCell(v: Variable): string {
  if (v.default === undefined) return '(none)';
  if (typeof v.default === 'object') return v.default.shown;
  if (v.default === '') return '(empty)';
  const readable = v.parser.unit === 'ms' ? readableMs(Number(v.default)) : undefined;
  return `\`${v.default}\`${readable ? ` (${readable})` : ''}`;
}

function meaningCell(v: Variable): string {
  return v.testOnly ? `${v.doc} (tests only: refused when \`NODE_ENV=production\`)` : v.doc;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

function renderTable(table: DeclaredVariables): string[] {
  const rows = table.names.map((name) => {
    const v = table.declaration(name)!;
    // A secret or certificate may come from a file: its `_FILE` variable names it.
    const meaning = v.fromFile ? `${meaningCell(v)}; or from a file: \`${fileVariable(name)}\`` : meaningCell(v);
    return `| ${[`\`${name}\``, defaultCell(v), v.parser.accepts, meaning].map(cell).join(' | ')} |`;
  });
  return ['| variable | default | accepts | meaning |', '|---|---|---|---|', ...rows];
}

/** The configuration tables, one section per declared table. */
export function renderConfigDocs(): string {
  return TABLES.map(({ table, heading, note }) => [`## ${heading}`, '', note, '', ...renderTable(table)].join('\n')).join('\n\n');
}

/** One generated part: which file, the name in its markers, and what belongs between them. */
export interface GeneratedPart {
  file: string;
  name: string;
  render: () => string;
}

export const GENERATED: GeneratedPart[] = [
  { file: 'docs/configuration.md', name: 'config', render: renderConfigDocs },
  {
    file: 'docs/operations/runbook.md',
    name: 'temporal-commands',
    render: () => renderCommands('npm run -s temporal --', TEMPORAL_COMMANDS),
  },
  { file: 'docs/operations/runbook.md', name: 'tctl-commands', render: () => renderCommands('npm run -s tctl --', TCTL_COMMANDS) },
  {
    file: 'docs/operations/runbook.md',
    name: 'tctl-raw-commands',
    render: () => renderCommands('tctl --address 127.0.0.1:7233 --ns default', TCTL_COMMANDS),
  },
  { file: 'docs/problems.md', name: 'problems', render: renderProblemCatalogue },
];

const begin = (name: string) => `<!-- generated:${name} (by \`npm run config:docs\`: edit the declaration, not this) -->`;
const end = (name: string) => `<!-- /generated:${name} -->`;

/** The text between a part's markers in `text`; throws if the markers are missing. */
export function partIn(text: string, part: GeneratedPart): string {
  const from = text.indexOf(begin(part.name));
  const to = text.indexOf(end(part.name), from);
  if (from < 0 || to < 0) throw new Error(`${part.file} has no "${begin(part.name)}" ... "${end(part.name)}" block`);
  return text
    .slice(from + begin(part.name).length, to)
    .replace(/^\n/, '')
    .replace(/\n$/, '');
}

function withPart(text: string, part: GeneratedPart, content: string): string {
  const from = text.indexOf(begin(part.name));
  const to = text.indexOf(end(part.name), from);
  return `${text.slice(0, from)}${begin(part.name)}\n${content}\n${text.slice(to)}`;
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const part of GENERATED) {
    const file = path.join(repoRoot, part.file);
    const text = fs.readFileSync(file, 'utf8');
    const generated = part.render();
    if (partIn(text, part) === generated) continue;
    stale++;
    if (check) console.error(`${part.file}: "${part.name}" is out of date: run \`npm run config:docs\``);
    else {
      fs.writeFileSync(file, withPart(text, part, generated));
      console.log(`${part.file}: "${part.name}" rewritten`);
    }
  }
  if (stale === 0) console.log('generated docs already current');
  if (check && stale > 0) process.exit(1);
}

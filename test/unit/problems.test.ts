/**
 * One code, one definition. Every error-kind table in the source (found by what declares it,
 * not by a list) is in the problem catalogue; no code and no `type` is defined twice; every
 * operation's problems are catalogued; docs/problems.md documents each.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OPERATIONS } from '../../api/app';
import { problemsOf } from '../../api/operation';
import { ERROR_TABLES, PROBLEMS, problemCatalog } from '../../api/problem-catalog';
import { problemSlug } from '../../api/problem';
import { repoRoot } from '../../lib/config';
import type { ErrorKind } from '../../lib/errors';
import { INVENTORY_FAILURES } from '../../services/inventory/contract';
import { PAYMENT_FAILURES } from '../../services/payments/contract';
import { renderProblemCatalogue } from '../../scripts/problem-docs';

const DECLARES_TABLE = /satisfies Record<string, ErrorKind>/;

function isKind(v: unknown): v is ErrorKind {
  const k = v as ErrorKind;
  return typeof k?.code === 'string' && typeof k.status === 'number' && typeof k.title === 'string' && typeof k.when === 'string';
}

/** Every exported error-kind table of every source file that declares one. */
function tablesInSource(): { file: string; name: string; table: Record<string, ErrorKind> }[] {
  const files = ['lib', 'api', 'services'].flatMap((dir) =>
    (fs.readdirSync(path.join(repoRoot, dir), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f)),
  );
  return files
    .filter((file) => DECLARES_TABLE.test(fs.readFileSync(path.join(repoRoot, file), 'utf8')))
    .flatMap((file) =>
      Object.entries(require(path.join(repoRoot, file)) as Record<string, unknown>)
        .filter(([, v]) => v && typeof v === 'object' && Object.values(v).length > 0 && Object.values(v).every(isKind))
        .map(([name, table]) => ({ file, name, table: table as Record<string, ErrorKind> })),
    );
}

test('every error-kind table in the source is in the problem catalogue', () => {
  const found = tablesInSource();
  expect(found.length).toBeGreaterThanOrEqual(7);
  const catalogued = new Set(ERROR_TABLES.map((t) => t.kinds));
  expect(found.filter((t) => !catalogued.has(t.table)).map((t) => `${t.file} ${t.name}`)).toEqual([]);
  expect(ERROR_TABLES.map((t) => t.source).sort()).toEqual(found.map((t) => `${t.file} ${t.name}`).sort());
});

test('no code and no type is defined twice across all tables', () => {
  const definitions = new Map<string, string[]>();
  for (const { file, name, table } of tablesInSource()) {
    for (const kind of Object.values(table)) {
      const slug = problemSlug(kind.code);
      definitions.set(slug, [...(definitions.get(slug) ?? []), `${file} ${name}.${kind.code}`]);
    }
  }
  const twice = [...definitions.entries()].filter(([, where]) => where.length > 1);
  expect(twice).toEqual([]);
  expect(PROBLEMS.map((p) => p.slug)).toHaveLength(definitions.size);
});

test('the catalogue refuses a code defined twice, even with the same title', () => {
  const a = { X: { code: 'SAME_CODE', status: 422, retryable: false, title: 'One', when: 'w', action: 'a' } };
  const b = { Y: { code: 'SAME_CODE', status: 422, retryable: false, title: 'One', when: 'w', action: 'a' } };
  const c = { Z: { code: 'SAME-CODE', status: 409, retryable: false, title: 'Other', when: 'w', action: 'a' } };
  expect(() => problemCatalog([{ source: 'a', kinds: a }])).not.toThrow();
  expect(() => problemCatalog([...ERROR_TABLES, { source: 'b', kinds: b }, { source: 'a', kinds: a }])).toThrow(/defined twice/);
  // Another code with the same slug would be another meaning behind the same `type`.
  expect(() =>
    problemCatalog([
      { source: 'a', kinds: a },
      { source: 'c', kinds: c },
    ]),
  ).toThrow(/"same-code" is defined twice/);
});

test('codes are upper snake case, and every ApplicationFailure type the activities raise is a catalogued code', () => {
  for (const p of PROBLEMS) expect(p.kind.code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
  const codes = new Set(PROBLEMS.map((p) => p.kind.code));
  const failureTypes = [...Object.values(PAYMENT_FAILURES), ...Object.values(INVENTORY_FAILURES)];
  expect(failureTypes.filter((t) => !codes.has(t))).toEqual([]);
});

test("every operation's problems are catalogued definitions", () => {
  const catalogued = new Set(PROBLEMS.map((p) => p.kind));
  for (const op of OPERATIONS) {
    const strays = problemsOf(op).filter((k) => !catalogued.has(k));
    expect({ op: `${op.method} ${op.path}`, strays: strays.map((k) => k.code) }).toEqual({ op: `${op.method} ${op.path}`, strays: [] });
  }
});

test('docs/problems.md has a section for every problem (its catalogue is generated: test/unit/docs.test.ts checks it is current)', () => {
  const rendered = renderProblemCatalogue();
  const page = fs.readFileSync(path.join(repoRoot, 'docs', 'problems.md'), 'utf8');
  for (const p of PROBLEMS) {
    expect(rendered).toContain(`## ${p.slug}\n`);
    expect(page).toContain(`## ${p.slug}\n`);
  }
});

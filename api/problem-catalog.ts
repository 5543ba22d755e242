/**
 * Every problem the system defines, from every error-kind table: the HTTP-only problems, the
 * kinds every context may raise, and each context's own. One code, one definition:
 * test/unit/problems.test.ts finds every table in the source and checks that each is listed
 * here and that no code or `type` is defined twice. GET /problems/<slug> and
 * docs/problems.md (scripts/problem-docs.ts) are made from this list.
 */
import { COMMON_ERRORS, type ErrorKind } from '../lib/errors';
import { IDEMPOTENCY_ERRORS } from '../services/access/idempotency';
import { CATALOG_ERRORS } from '../services/catalog/contract';
import { INVENTORY_ERRORS } from '../services/inventory/contract';
import { ORDER_ERRORS } from '../services/orders/contract';
import { PAYMENT_ERRORS } from '../services/payments/contract';
import { API_PROBLEMS, problemSlug, problemType } from './problem';

export interface ErrorTable {
  /** Where it is declared: file and exported name. */
  source: string;
  kinds: Record<string, ErrorKind>;
}

export const ERROR_TABLES: readonly ErrorTable[] = [
  { source: 'api/problem.ts API_PROBLEMS', kinds: API_PROBLEMS },
  { source: 'lib/errors.ts COMMON_ERRORS', kinds: COMMON_ERRORS },
  { source: 'services/access/idempotency.ts IDEMPOTENCY_ERRORS', kinds: IDEMPOTENCY_ERRORS },
  { source: 'services/catalog/contract.ts CATALOG_ERRORS', kinds: CATALOG_ERRORS },
  { source: 'services/inventory/contract.ts INVENTORY_ERRORS', kinds: INVENTORY_ERRORS },
  { source: 'services/orders/contract.ts ORDER_ERRORS', kinds: ORDER_ERRORS },
  { source: 'services/payments/contract.ts PAYMENT_ERRORS', kinds: PAYMENT_ERRORS },
];

export interface ProblemEntry {
  kind: ErrorKind;
  slug: string;
  type: string;
  source: string;
}

/** Every defined problem once, by status then code; throws if a code or slug is defined twice. */
export function problemCatalog(tables: readonly ErrorTable[] = ERROR_TABLES): ProblemEntry[] {
  const bySlug = new Map<string, ProblemEntry>();
  for (const { source, kinds } of tables) {
    for (const kind of Object.values(kinds)) {
      const slug = problemSlug(kind.code);
      const seen = bySlug.get(slug);
      if (seen) throw new Error(`problem "${slug}" is defined twice: ${seen.source} (${seen.kind.code}) and ${source} (${kind.code})`);
      bySlug.set(slug, { kind, slug, type: problemType(kind.code), source });
    }
  }
  return [...bySlug.values()].sort((a, b) => a.kind.status - b.kind.status || a.kind.code.localeCompare(b.kind.code));
}

export const PROBLEMS: readonly ProblemEntry[] = problemCatalog();

/** The defined problem with this slug, if any. */
export function problemBySlug(slug: string): ProblemEntry | undefined {
  return PROBLEMS.find((p) => p.slug === slug);
}

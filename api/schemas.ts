/**
 * Request and response shapes of the REST API. The request schemas validate every body
 * (unknown fields are errors); both kinds generate the OpenAPI document, and tests parse
 * real responses with the response schemas, so the document cannot drift from the code.
 */
import { z } from 'zod';
import { ORDER_STATUSES } from '../services/orders/contract';
import {
  ACTOR_KINDS,
  AUDIT_ACTION_NAMES,
  AUDIT_OUTCOMES,
  type ActorKind,
  type AuditAction,
  type AuditOutcome,
} from '../services/platform/audit-log/audit-log';
import type { FieldError } from './problem';

/** Deep pages are a scan: past this, filter instead. */
const MAX_OFFSET = 100_000;
const MAX_MINOR = 1_000_000_000_000; // 10^12 minor units: far below 2^53, far above any real order.

/** C0 controls (NUL, tab, newline included) and DEL: nothing a client sends needs them, and PostgreSQL cannot store NUL. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001F\u007F]/;
/** With the u flag this matches only unpaired surrogates, which have no UTF-8 form. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The one rule for every string the API accepts (body fields, path parameters, query
 * parameters): well-formed Unicode (so valid UTF-8 for the database; no lone surrogate) without
 * control characters. Every string schema starts here.
 */
export const text = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .refine((v) => !LONE_SURROGATE.test(v), `${what} must be valid Unicode text (no lone surrogates)`)
    .refine((v) => !CONTROL.test(v), `${what} must not contain control characters (U+0000-U+001F, U+007F)`);

/** A path parameter: the same rule (api/operation.ts checks every one before the handler runs). */
export const PathParam = text('a path parameter').max(1000, 'a path parameter may be at most 1000 characters');

const id = (what: string) =>
  text(what).regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, `${what} must be 1-100 characters: letters, digits, . _ : - (not first)`);
/** A customer id: an id outside the system accounts' namespaces (merchant:, external:). */
const customerId = (what: string) =>
  id(what).refine((v) => !/^(merchant|external):/i.test(v), `${what} may not start with "merchant:" or "external:" (reserved)`);
const currency = text('currency').regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as EUR');
const minor = (what: string) =>
  z
    .int({ error: `${what} must be an integer number of minor units` })
    .min(0, `${what} must be >= 0`)
    .max(MAX_MINOR, `${what} is too large`);
const reason = text('reason').trim().min(1, 'reason must not be empty').max(500, 'reason may be at most 500 characters');

export const PlaceOrderBody = z.strictObject({
  customerId: customerId('customerId'),
  items: z
    .array(
      z.strictObject({
        sku: id('sku'),
        quantity: z
          .int({ error: 'quantity must be an integer' })
          .min(1, 'quantity must be at least 1')
          .max(10_000, 'quantity may be at most 10000'),
      }),
      { error: 'items must be an array' },
    )
    .min(1, 'items must not be empty')
    .max(100, 'at most 100 items per order'),
});
export type PlaceOrderBody = z.infer<typeof PlaceOrderBody>;

export const ReasonBody = z.strictObject({ reason });

export const ProductBody = z.strictObject({
  sku: id('sku'),
  name: text('name').trim().min(1, 'name must not be empty').max(200),
  unitPriceMinor: minor('unitPriceMinor'),
  currency,
  addStock: z.int({ error: 'addStock must be an integer' }).min(0, 'addStock must be >= 0').max(1_000_000_000).default(0),
});

export const AccountBody = z.strictObject({
  customerId: customerId('customerId'),
  currency,
  depositMinor: minor('depositMinor').default(0),
});

export const ApiKeyBody = z.strictObject({
  name: text('name').trim().min(1, 'name must not be empty').max(100),
  role: z.enum(['client', 'admin'], { error: 'role must be "client" or "admin"' }),
  /** The customers a client key may act for. */
  customers: z.array(customerId('customers[]')).max(1000, 'at most 1000 customers per key').default([]),
});

export const GrantsBody = z.strictObject({
  customers: z.array(customerId('customers[]')).max(1000, 'at most 1000 customers per key'),
});

// ------------------------------------------------------------------ responses

export const OrderAccepted = z.object({
  orderId: z.uuid(),
  status: z.enum(ORDER_STATUSES),
  workflowId: z.string(),
});

export const OrderView = z.object({
  orderId: z.uuid(),
  customerId: z.string(),
  status: z.enum(ORDER_STATUSES),
  failureReason: z.string().nullable(),
  currency,
  totalMinor: z.int(),
  items: z.array(z.object({ sku: z.string(), quantity: z.int(), unitPriceMinor: z.int() })),
  steps: z.array(
    z.object({
      name: z.string(),
      status: z.enum(['STARTED', 'COMPLETED', 'FAILED']),
      orderStatus: z.enum(ORDER_STATUSES),
      detail: z.string().nullable(),
      at: z.iso.datetime(),
    }),
  ),
  /** The compensation window's deadline, set when the order is CONFIRMED: a manual compensation is accepted until then. */
  compensationWindowClosesAt: z.iso.datetime().nullable(),
  /** When the window closed (it elapsed, or the workflow was cancelled while CONFIRMED); null while open or not yet set. */
  compensationWindowClosedAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const CancelAccepted = z.object({ orderId: z.uuid(), status: z.enum(ORDER_STATUSES), accepted: z.literal(true) });

export const AccountView = z.object({
  customerId: z.string(),
  currency,
  balanceMinor: z.int(),
  /** Newest first, one page (?limit=&offset=). */
  entries: z.array(
    z.object({
      transactionId: z.uuid(),
      kind: z.enum(['DEPOSIT', 'CHARGE', 'REFUND']),
      orderId: z.uuid().nullable(),
      amountMinor: z.int(),
      at: z.iso.datetime(),
    }),
  ),
});

export const ProductView = z.object({
  sku: z.string(),
  name: z.string(),
  unitPriceMinor: z.int(),
  currency,
  available: z.int(),
  reserved: z.int(),
  committed: z.int(),
});

export const ApiKeyCreated = z.object({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(['client', 'admin']),
  customers: z.array(z.string()),
  /** The secret, shown once; null when an idempotent replay answers. */
  key: z.string().nullable(),
});

export const ApiKeyView = z.object({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(['client', 'admin']),
  customers: z.array(z.string()),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().nullable(),
});

export const ApiKeyPage = z.object({ limit: z.int(), offset: z.int(), items: z.array(ApiKeyView) });

export const Health = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()).optional() });

/** RFC 9457 problem details, with the stable `code` of the problem (GET /problems/<slug> documents each). */
export const ProblemBody = z
  .object({
    type: z.string().meta({ description: 'URI reference of the problem type; GET it (resolved against the API) for its documentation' }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string(),
    code: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/)
      .meta({ description: 'Stable code of the problem, unique in the system' }),
    errors: z.array(z.object({ pointer: z.string(), detail: z.string() })).optional(),
  })
  .loose();

/** What GET /problems/<slug> answers: one problem's documentation. */
export const ProblemDoc = z.object({
  type: z.string(),
  code: z.string(),
  status: z.int(),
  title: z.string(),
  when: z.string(),
  action: z.string(),
  retryable: z.boolean(),
});

/** Zod issues as RFC 9457 field errors with JSON pointers. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ pointer: `${base}/${k}`, detail: `unknown field "${k}"` }));
    }
    return [{ pointer: base || '/', detail: issue.message }];
  });
}

export const TimelineView = z.object({
  orderId: z.uuid(),
  entries: z.array(
    z.object({ eventId: z.uuid(), sequence: z.int(), type: z.string(), occurredAt: z.iso.datetime(), payload: z.unknown() }),
  ),
  anomalies: z.array(
    z.object({ kind: z.string(), eventId: z.string(), sequence: z.int(), expectedSequence: z.int(), detectedAt: z.iso.datetime() }),
  ),
});

export const DeadLetter = z.object({
  id: z.string(),
  consumerGroup: z.string(),
  sourceTopic: z.string(),
  sourcePartition: z.int(),
  sourceOffset: z.string(),
  dlqTopic: z.string(),
  eventId: z.string().nullable(),
  eventType: z.string().nullable(),
  messageKey: z.string().nullable(),
  errorClass: z.string(),
  errorMessage: z.string(),
  retryable: z.boolean(),
  attempts: z.int(),
  firstFailedAt: z.iso.datetime(),
  lastFailedAt: z.iso.datetime(),
  deadLetteredAt: z.iso.datetime(),
  replayCount: z.int(),
  replayedAt: z.iso.datetime().nullable(),
  value: z.string().nullable(),
});

export const DeadLetterPage = z.object({ total: z.int(), limit: z.int(), offset: z.int(), items: z.array(DeadLetter) });

/** ?limit=&offset= with a capped page size and a capped depth. */
function paging(maxLimit: number, defaultLimit: number) {
  return z.strictObject({
    limit: z.coerce
      .number({ error: 'limit must be a number' })
      .int('limit must be an integer')
      .min(1, 'limit must be >= 1')
      .max(maxLimit, `limit may be at most ${maxLimit}`)
      .default(defaultLimit),
    offset: z.coerce
      .number({ error: 'offset must be a number' })
      .int('offset must be an integer')
      .min(0, 'offset must be >= 0')
      .max(MAX_OFFSET, `offset may be at most ${MAX_OFFSET}`)
      .default(0),
  });
}

export const Paging = paging(500, 50);
/** Ledger entries of one account, newest first. */
export const EntriesPaging = paging(100, 50);

// ------------------------------------------------------------------ reconciliation

export const ReconciliationRunBody = z.strictObject({
  mode: z.enum(['full', 'incremental'], { error: 'mode must be "full" or "incremental"' }).default('full'),
  orderIds: z
    .array(z.uuid({ error: 'orderIds must be order ids (UUIDs)' }))
    .min(1)
    .max(1000, 'at most 1000 orderIds')
    .optional(),
});

const CheckSummary = z.object({
  failing: z.int(),
  raised: z.int(),
  resolved: z.int(),
  open: z.int(),
  suspects: z.int(),
  flooded: z.boolean(),
  durationMs: z.int(),
});

export const ReconciliationRunView = z.object({
  id: z.string(),
  trigger: z.enum(['SCHEDULE', 'API', 'CLI']),
  mode: z.enum(['FULL', 'INCREMENTAL']),
  status: z.enum(['REQUESTED', 'RUNNING', 'SUCCEEDED', 'FAILED']),
  scope: z
    .object({ orderIds: z.array(z.string()).optional(), accountIds: z.array(z.string()).optional(), skus: z.array(z.string()).optional() })
    .nullable(),
  requestedAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  durationMs: z.int().nullable(),
  subjectsExamined: z.int(),
  failing: z.int(),
  raised: z.int(),
  resolved: z.int(),
  openFindings: z.int(),
  summary: z
    .object({
      checks: z.record(z.string(), CheckSummary),
      needsAttention: z.object({
        count: z.int(),
        orders: z.array(z.object({ orderId: z.string(), failureReason: z.string().nullable(), ageMs: z.number() })),
      }),
      errors: z.record(z.string(), z.string()).optional(),
    })
    .nullable(),
  error: z.string().nullable(),
});

export const ReconciliationFinding = z.object({
  id: z.string(),
  check: z.string(),
  fingerprint: z.string(),
  subjectType: z.string(),
  subjectId: z.string(),
  status: z.enum(['suspect', 'open', 'resolved']),
  details: z.unknown(),
  firstSeenAt: z.iso.datetime(),
  lastSeenAt: z.iso.datetime(),
  raisedAt: z.iso.datetime().nullable(),
  resolvedAt: z.iso.datetime().nullable(),
  occurrences: z.int(),
});

export const ReconciliationFindingPage = z.object({
  total: z.int(),
  limit: z.int(),
  offset: z.int(),
  items: z.array(ReconciliationFinding),
});

export const FindingsQuery = Paging.extend({
  status: z.enum(['open', 'suspect', 'resolved', 'all'], { error: 'status must be open, suspect, resolved or all' }).default('open'),
  check: text('check').max(100).optional(),
});

// ------------------------------------------------------------------ operator audit log

/** ?action=&actor=&subject=&outcome=&from=&to=&limit=&cursor= (every filter optional; `cursor` from the previous page's `next`). */
export const AuditQuery = z.strictObject({
  action: z
    .enum(AUDIT_ACTION_NAMES as [AuditAction, ...AuditAction[]], { error: `action must be one of ${AUDIT_ACTION_NAMES.join(', ')}` })
    .optional(),
  actor: text('actor').min(1).max(600).optional(),
  subject: text('subject').min(1).max(300).optional(),
  outcome: z.enum(AUDIT_OUTCOMES as [AuditOutcome, ...AuditOutcome[]], { error: 'outcome must be done, refused or failed' }).optional(),
  from: z.iso.datetime({ offset: true, error: 'from must be an ISO 8601 date-time such as 2026-12-02T17:00:00Z' }).optional(),
  to: z.iso.datetime({ offset: true, error: 'to must be an ISO 8601 date-time such as 2026-12-02T18:00:00Z' }).optional(),
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be an integer')
    .min(1, 'limit must be >= 1')
    .max(200, 'limit may be at most 200')
    .default(50),
  cursor: text('cursor')
    .regex(/^[A-Za-z0-9_-]{1,40}$/, 'cursor must be the `next` of a previous page')
    .optional(),
});

export const AuditEntryView = z.object({
  id: z.string(),
  occurredAt: z.iso.datetime(),
  actor: z.object({ kind: z.enum(ACTOR_KINDS as [ActorKind, ...ActorKind[]]), id: z.string(), name: z.string() }),
  action: z.string(),
  subject: z.object({ kind: z.string(), id: z.string() }),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  outcome: z.enum(AUDIT_OUTCOMES as [AuditOutcome, ...AuditOutcome[]]),
  detail: z.record(z.string(), z.unknown()),
});

export const AuditPageView = z.object({
  limit: z.int(),
  items: z.array(AuditEntryView),
  /** The cursor of the next (older) page; null on the last page. */
  next: z.string().nullable(),
});

/**
 * What each order status allows of its reservation and payment (STATUS_ALLOWS in contract.ts),
 * as the database's guard trigger (a migration checked against guardTriggerSql() by
 * test/unit/status-rules.test.ts) and as docs/order-status-rules.md (`npx tsx
 * scripts/status-rules.ts` regenerates it). The reconciler builds its own SQL from the same
 * declaration (services/reconciliation/checks/status-allows.ts).
 */
import { GUARDED_ON_ENTRY, ORDER_STATUSES, STATUS_ALLOWS, type Allowed, type OrderStatus } from './contract';

type Subject = 'reservation' | 'payment';

const TABLES: Record<Subject, string> = { reservation: 'reservations', payment: 'payments' };

const literal = (s: string | null) => (s === null ? 'NULL' : `'${s}'`);

/** What a row of `subject` not allowed on entering `status` is, as text (NULL when allowed). */
function leftInEffect(status: OrderStatus, subject: Subject): string[] {
  const allowed: Allowed<string> = STATUS_ALLOWS[status][subject];
  if (allowed === '*') return [];
  const states = allowed.filter((s): s is string => s !== null);
  const table = TABLES[subject];
  const wrongRow = `(SELECT '${subject} ' || t."status" FROM "${table}" t WHERE t."order_id" = NEW."id"${
    states.length > 0 ? ` AND t."status" NOT IN (${states.map(literal).join(', ')})` : ''
  })`;
  const noRow = `(SELECT 'no ${subject}' WHERE NOT EXISTS (SELECT 1 FROM "${table}" t WHERE t."order_id" = NEW."id"))`;
  return allowed.includes(null) ? [wrongRow] : [wrongRow, noRow];
}

/**
 * The guard trigger's function: CONFIRMED -> COMPENSATING only while the compensation window is
 * open (SQLSTATE OS001); a status of GUARDED_ON_ENTRY entered only while the reservation and the
 * payment are in states it allows (SQLSTATE OS002).
 */
export function guardTriggerSql(): string {
  const entries = GUARDED_ON_ENTRY.map(
    (status) => `    IF NEW."status" = '${status}' AND OLD."status" IS DISTINCT FROM '${status}' THEN
        SELECT array_remove(ARRAY[
                   ${[...leftInEffect(status, 'payment'), ...leftInEffect(status, 'reservation')].join(',\n                   ')}
               ]::text[], NULL)
          INTO left_in_effect;
        IF cardinality(left_in_effect) > 0 THEN
            RAISE EXCEPTION 'order %: cannot be ${status} while % in effect', NEW."id", array_to_string(left_in_effect, ' and ')
                USING ERRCODE = 'OS002';
        END IF;
    END IF;
`,
  );
  return `CREATE OR REPLACE FUNCTION "orders_guard_compensation"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    left_in_effect TEXT[];
BEGIN
    IF NEW."status" = 'COMPENSATING' AND OLD."status" = 'CONFIRMED'
       AND (OLD."compensation_window_closed_at" IS NOT NULL OR OLD."compensation_window_closes_at" <= now()) THEN
        RAISE EXCEPTION 'order %: its compensation window has closed', NEW."id"
            USING ERRCODE = 'OS001';
    END IF;
${entries.join('')}    RETURN NEW;
END $$;
`;
}

const cell = (allowed: Allowed<string>) => (allowed === '*' ? 'any' : allowed.map((s) => (s === null ? 'none' : `\`${s}\``)).join(', '));

/** docs/order-status-rules.md. */
export function statusRulesMarkdown(): string {
  const rows = ORDER_STATUSES.map((status) => {
    const { reservation, payment } = STATUS_ALLOWS[status];
    const guard = GUARDED_ON_ENTRY.includes(status) ? 'refused on entry otherwise (`OS002`)' : '';
    return `| \`${status}\` | ${cell(reservation)} | ${cell(payment)} | ${guard} |`;
  });
  return `<!-- Generated from STATUS_ALLOWS (services/orders/contract.ts) by \`npx tsx scripts/status-rules.ts\`; test/unit/status-rules.test.ts checks it. -->
# What each order status allows

What an order's reservation and payment may be while the order has a status, on one snapshot
(every saga step is one transaction; the statuses in between allow what a step in flight can
leave). "none": no row. The reconciler raises \`inventory.reservation_status\` or
\`order.payment_ledger\` for anything else; the database refuses to enter a guarded status
otherwise (trigger \`orders_guard_compensation\`).

| status | reservation | payment | database |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}

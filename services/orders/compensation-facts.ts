/**
 * What the database says an order did that a compensation must undo: a payment still captured,
 * stock still held or committed. The saga adds the compensations these call for to the ones its
 * own run remembers, so a run that lost its memory (a fresh run after the old one's history was
 * dropped) still undoes what was done. Read-only; a local activity of the orders worker.
 */
import { runStatement, type Db } from '../../lib/db';
import { sql } from '../../lib/sql';

export interface CompensationFactsInput {
  orderId: string;
}

export type CompensationFacts = {
  /** The order's payment is CAPTURED (charged, not refunded). */
  chargeInEffect: boolean;
  /** The order's reservation is HELD or COMMITTED (stock not returned). */
  stockInEffect: boolean;
};

export function createCompensationFacts({ db }: { db: Db }) {
  return {
    async facts({ orderId }: CompensationFactsInput): Promise<CompensationFacts> {
      const [row] = await runStatement<CompensationFacts>(
        db,
        sql`
        SELECT EXISTS (SELECT 1 FROM payments WHERE order_id = ${orderId}::uuid AND status = 'CAPTURED') AS "chargeInEffect",
               EXISTS (SELECT 1 FROM reservations WHERE order_id = ${orderId}::uuid AND status IN ('HELD', 'COMMITTED')) AS "stockInEffect"`,
      );
      return row!;
    },
  };
}

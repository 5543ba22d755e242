-- Compensation marks and honest payment rows. A compensation can run before (or while) the
-- forward step it undoes: after a workflow cancel, or an attempt that outlived its timeout.
-- It now leaves a durable mark, claimed on the same primary key as the forward step, so a
-- late forward attempt waits for it and then fails instead of committing:
--   - a release that finds no reservation writes a RELEASED reservation without items;
--   - a refund that finds no payment writes a VOIDED payment, which names no customer,
--     amount or currency (no charge was ever asked of the payment service).
-- Mirrors prisma/schema.prisma (a test checks they agree).

-- ---------------------------------------------------------------- payments
ALTER TABLE "payments" DROP CONSTRAINT "payments_status_check";
ALTER TABLE "payments" ADD CONSTRAINT "payments_status_check"
    CHECK ("status" IN ('CAPTURED', 'FAILED', 'REFUNDED', 'VOIDED'));

ALTER TABLE "payments" ALTER COLUMN "customer_id" DROP NOT NULL,
                       ALTER COLUMN "amount_minor" DROP NOT NULL,
                       ALTER COLUMN "currency" DROP NOT NULL;
-- Only a VOIDED row may lack the charge's terms, and a VOIDED row has no money behind it.
ALTER TABLE "payments" ADD CONSTRAINT "payments_charge_terms_check"
    CHECK ("status" = 'VOIDED' OR ("customer_id" IS NOT NULL AND "amount_minor" IS NOT NULL AND "currency" IS NOT NULL));
ALTER TABLE "payments" ADD CONSTRAINT "payments_voided_check"
    CHECK ("status" <> 'VOIDED' OR ("charge_tx_id" IS NULL AND "refund_tx_id" IS NULL AND "failure_reason" IS NULL));

-- A FAILED payment always says why; a CAPTURED or REFUNDED one names its charge (only a
-- charge of zero moves no money and so has no ledger transaction), and a REFUNDED one its
-- refund likewise.
ALTER TABLE "payments" ADD CONSTRAINT "payments_failure_reason_check"
    CHECK ("status" <> 'FAILED' OR "failure_reason" IS NOT NULL);
ALTER TABLE "payments" ADD CONSTRAINT "payments_charge_tx_check"
    CHECK ("status" NOT IN ('CAPTURED', 'REFUNDED') OR "charge_tx_id" IS NOT NULL OR "amount_minor" = 0);
ALTER TABLE "payments" ADD CONSTRAINT "payments_refund_tx_check"
    CHECK ("status" <> 'REFUNDED' OR "refund_tx_id" IS NOT NULL OR "amount_minor" = 0);

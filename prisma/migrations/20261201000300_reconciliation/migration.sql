-- Reconciliation: the stock movement journal (so stock added can be proven), the
-- reconciler's findings and runs, and the read-only database role it connects with.
-- Mirrors the models at the end of prisma/schema.prisma (a test checks they agree).

-- ---------------------------------------------------------------- stock movement journal
-- Every unit of stock that enters (or, by a counted correction, leaves) the warehouse.
-- Reserve, commit and release only move stock between a product's counters, so for every
-- product: sum(quantity) = available + reserved + committed.
CREATE TABLE "stock_movements" (
    "id" BIGSERIAL NOT NULL,
    "sku" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "detail" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "stock_movements_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "stock_movements_quantity_check" CHECK ("quantity" <> 0),
    CONSTRAINT "stock_movements_kind_check" CHECK ("kind" IN ('OPENING', 'RECEIVED', 'ADJUSTMENT'))
);
CREATE INDEX "stock_movements_sku_id_idx" ON "stock_movements"("sku", "id");
ALTER TABLE "stock_movements" ADD CONSTRAINT "stock_movements_sku_fkey" FOREIGN KEY ("sku")
    REFERENCES "products"("sku") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Append-only, like the ledger: a wrong movement is corrected by an ADJUSTMENT, never edited.
CREATE FUNCTION "stock_movements_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_movements is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER "stock_movements_append_only" BEFORE UPDATE OR DELETE ON "stock_movements"
    FOR EACH ROW EXECUTE FUNCTION "stock_movements_reject_change"();
CREATE TRIGGER "stock_movements_no_truncate" BEFORE TRUNCATE ON "stock_movements"
    FOR EACH STATEMENT EXECUTE FUNCTION "stock_movements_reject_change"();

-- The journal starts with the stock on hand today.
INSERT INTO "stock_movements" ("sku", "quantity", "kind", "detail")
SELECT "sku", "available" + "reserved" + "committed", 'OPENING', 'stock on hand when the journal began'
  FROM "products" WHERE "available" + "reserved" + "committed" > 0;

-- ---------------------------------------------------------------- reconciliation runs and findings
CREATE TABLE "reconciliation_runs" (
    "id" BIGSERIAL NOT NULL,
    "trigger" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "scope" JSONB,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "duration_ms" INTEGER,
    "watermark" JSONB,
    "subjects_examined" INTEGER NOT NULL DEFAULT 0,
    "failing" INTEGER NOT NULL DEFAULT 0,
    "raised" INTEGER NOT NULL DEFAULT 0,
    "resolved" INTEGER NOT NULL DEFAULT 0,
    "open_findings" INTEGER NOT NULL DEFAULT 0,
    "summary" JSONB,
    "error" TEXT,
    "instance" TEXT,
    CONSTRAINT "reconciliation_runs_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "reconciliation_runs_trigger_check" CHECK ("trigger" IN ('SCHEDULE', 'API', 'CLI')),
    CONSTRAINT "reconciliation_runs_mode_check" CHECK ("mode" IN ('FULL', 'INCREMENTAL')),
    CONSTRAINT "reconciliation_runs_status_check" CHECK ("status" IN ('REQUESTED', 'RUNNING', 'SUCCEEDED', 'FAILED'))
);
CREATE INDEX "reconciliation_runs_status_id_idx" ON "reconciliation_runs"("status", "id");

CREATE TABLE "reconciliation_findings" (
    "id" BIGSERIAL NOT NULL,
    "check_name" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "subject_type" TEXT NOT NULL,
    "subject_id" TEXT NOT NULL,
    "details" JSONB NOT NULL,
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "raised_at" TIMESTAMPTZ(3),
    "resolved_at" TIMESTAMPTZ(3),
    "first_run_id" BIGINT NOT NULL,
    "last_run_id" BIGINT NOT NULL,
    "resolved_run_id" BIGINT,
    "occurrences" INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT "reconciliation_findings_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "reconciliation_findings_occurrences_check" CHECK ("occurrences" >= 1)
);
CREATE INDEX "reconciliation_findings_check_name_fingerprint_id_idx" ON "reconciliation_findings"("check_name", "fingerprint", "id");
-- One open finding per (check, fingerprint); a resolved one stays as history, and a
-- recurrence opens a new row.
CREATE UNIQUE INDEX "reconciliation_findings_open_key" ON "reconciliation_findings"("check_name", "fingerprint")
    WHERE "resolved_at" IS NULL;
CREATE INDEX "reconciliation_findings_open_subject_idx" ON "reconciliation_findings"("subject_type", "subject_id")
    WHERE "resolved_at" IS NULL;

-- Findings are never deleted, and a resolved finding is never changed again.
CREATE FUNCTION "reconciliation_findings_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD."resolved_at" IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'reconciliation findings are kept as history: % of a % finding is not allowed', TG_OP,
        CASE WHEN TG_OP = 'UPDATE' THEN 'resolved' ELSE 'any' END
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER "reconciliation_findings_history" BEFORE UPDATE OR DELETE ON "reconciliation_findings"
    FOR EACH ROW EXECUTE FUNCTION "reconciliation_findings_guard"();
CREATE TRIGGER "reconciliation_findings_no_truncate" BEFORE TRUNCATE ON "reconciliation_findings"
    FOR EACH STATEMENT EXECUTE FUNCTION "reconciliation_findings_guard"();

-- ---------------------------------------------------------------- the reconciler's read-only role
-- Roles are cluster-wide. The local stack (scripts/stack/postgres.ts) creates it with LOGIN
-- and a password before migrating; elsewhere it is created here without LOGIN (a DBA grants
-- it to a login role, or gives it LOGIN). Two databases migrating at once may both try:
-- the loser's duplicate error is ignored.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'order_saga_reconciler') THEN
        BEGIN
            CREATE ROLE "order_saga_reconciler" NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role order_saga_reconciler does not exist and % may not create it; create it first: CREATE ROLE order_saga_reconciler NOLOGIN', current_user;
        END;
    END IF;
END $$;

-- It reads the domain tables (not API keys, idempotency records or notifications)...
GRANT SELECT ON "orders", "order_items", "order_status_history", "products", "reservations", "reservation_items",
    "stock_movements", "payments", "accounts", "ledger_transactions", "ledger_entries", "outbox_events",
    "outbox_sequences", "processed_events", "audit_timeline", "audit_anomalies", "dead_letters"
    TO "order_saga_reconciler";
-- ...and writes only its own tables, never deleting.
GRANT SELECT, INSERT, UPDATE ON "reconciliation_runs", "reconciliation_findings" TO "order_saga_reconciler";
GRANT USAGE ON SEQUENCE "reconciliation_runs_id_seq", "reconciliation_findings_id_seq" TO "order_saga_reconciler";

-- The app: the catalog journals the stock it adds; the API records run requests and reads
-- the findings (the reconciler does the runs). order_saga_reader reads these tables through
-- the default privileges of 20261201000200_least_privilege.
GRANT SELECT, INSERT ON "stock_movements" TO order_saga_app;
GRANT SELECT, INSERT ON "reconciliation_runs" TO order_saga_app;
GRANT SELECT ON "reconciliation_findings" TO order_saga_app;
GRANT USAGE, SELECT ON SEQUENCE "stock_movements_id_seq", "reconciliation_runs_id_seq" TO order_saga_app;

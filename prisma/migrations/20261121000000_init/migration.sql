-- order-saga initial schema. Mirrors prisma/schema.prisma (a test checks they agree) and
-- adds what Prisma cannot express: CHECK constraints and the ledger's append-only triggers.

-- ---------------------------------------------------------------- orders service
CREATE TABLE "orders" (
    "id" UUID NOT NULL,
    "customer_id" TEXT NOT NULL,
    "api_key_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "failure_reason" TEXT,
    "currency" CHAR(3) NOT NULL,
    "total_minor" BIGINT NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "saga_started_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "orders_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "orders_total_minor_check" CHECK ("total_minor" >= 0),
    CONSTRAINT "orders_status_check" CHECK ("status" IN ('PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED',
        'CONFIRMED', 'REJECTED', 'COMPENSATING', 'COMPENSATED', 'NEEDS_ATTENTION'))
);
CREATE UNIQUE INDEX "orders_workflow_id_key" ON "orders"("workflow_id");
CREATE INDEX "orders_customer_id_idx" ON "orders"("customer_id");
CREATE INDEX "orders_status_created_at_idx" ON "orders"("status", "created_at");
-- The saga-start sweeper looks only at orders whose workflow is not yet known to exist.
CREATE INDEX "orders_saga_not_started_idx" ON "orders"("created_at") WHERE "saga_started_at" IS NULL;

CREATE TABLE "order_items" (
    "order_id" UUID NOT NULL,
    "line_no" INTEGER NOT NULL,
    "sku" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "unit_price_minor" BIGINT NOT NULL,
    CONSTRAINT "order_items_pkey" PRIMARY KEY ("order_id", "line_no"),
    CONSTRAINT "order_items_quantity_check" CHECK ("quantity" >= 1),
    CONSTRAINT "order_items_unit_price_minor_check" CHECK ("unit_price_minor" >= 0)
);
ALTER TABLE "order_items" ADD CONSTRAINT "order_items_order_id_fkey" FOREIGN KEY ("order_id")
    REFERENCES "orders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "order_status_history" (
    "id" BIGSERIAL NOT NULL,
    "order_id" UUID NOT NULL,
    "transition_key" TEXT NOT NULL,
    "step" TEXT NOT NULL,
    "step_status" TEXT NOT NULL,
    "order_status" TEXT NOT NULL,
    "detail" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "order_status_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "order_status_history_step_status_check" CHECK ("step_status" IN ('STARTED', 'COMPLETED', 'FAILED'))
);
CREATE UNIQUE INDEX "order_status_history_order_id_transition_key_key" ON "order_status_history"("order_id", "transition_key");
CREATE INDEX "order_status_history_order_id_id_idx" ON "order_status_history"("order_id", "id");
ALTER TABLE "order_status_history" ADD CONSTRAINT "order_status_history_order_id_fkey" FOREIGN KEY ("order_id")
    REFERENCES "orders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------- catalog and inventory
CREATE TABLE "products" (
    "sku" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "unit_price_minor" BIGINT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "available" INTEGER NOT NULL DEFAULT 0,
    "reserved" INTEGER NOT NULL DEFAULT 0,
    "committed" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "products_pkey" PRIMARY KEY ("sku"),
    -- No oversell, ever: stock counters never go negative, whatever the code does.
    CONSTRAINT "products_stock_check" CHECK ("available" >= 0 AND "reserved" >= 0 AND "committed" >= 0),
    CONSTRAINT "products_unit_price_minor_check" CHECK ("unit_price_minor" >= 0)
);

CREATE TABLE "reservations" (
    "order_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "reservations_pkey" PRIMARY KEY ("order_id"),
    CONSTRAINT "reservations_status_check" CHECK ("status" IN ('HELD', 'COMMITTED', 'RELEASED', 'REJECTED'))
);

CREATE TABLE "reservation_items" (
    "order_id" UUID NOT NULL,
    "sku" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL,
    CONSTRAINT "reservation_items_pkey" PRIMARY KEY ("order_id", "sku"),
    CONSTRAINT "reservation_items_quantity_check" CHECK ("quantity" >= 1)
);
ALTER TABLE "reservation_items" ADD CONSTRAINT "reservation_items_order_id_fkey" FOREIGN KEY ("order_id")
    REFERENCES "reservations"("order_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------- payment
CREATE TABLE "payments" (
    "order_id" UUID NOT NULL,
    "customer_id" TEXT NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "status" TEXT NOT NULL,
    "failure_reason" TEXT,
    "charge_tx_id" UUID,
    "refund_tx_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "payments_pkey" PRIMARY KEY ("order_id"),
    CONSTRAINT "payments_status_check" CHECK ("status" IN ('CAPTURED', 'FAILED', 'REFUNDED')),
    CONSTRAINT "payments_amount_minor_check" CHECK ("amount_minor" >= 0)
);
CREATE INDEX "payments_customer_id_idx" ON "payments"("customer_id");

CREATE TABLE "accounts" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "balance_minor" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "accounts_kind_check" CHECK ("kind" IN ('CUSTOMER', 'MERCHANT', 'EXTERNAL')),
    -- Balances never go negative; only the EXTERNAL (outside world) account may.
    CONSTRAINT "accounts_balance_check" CHECK ("kind" = 'EXTERNAL' OR "balance_minor" >= 0)
);

CREATE TABLE "ledger_transactions" (
    "id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "order_id" UUID,
    "idempotency_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ledger_transactions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ledger_transactions_kind_check" CHECK ("kind" IN ('DEPOSIT', 'CHARGE', 'REFUND'))
);
CREATE UNIQUE INDEX "ledger_transactions_idempotency_key_key" ON "ledger_transactions"("idempotency_key");
CREATE INDEX "ledger_transactions_order_id_idx" ON "ledger_transactions"("order_id");

CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "transaction_id" UUID NOT NULL,
    "account_id" TEXT NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ledger_entries_amount_check" CHECK ("amount_minor" <> 0)
);
CREATE INDEX "ledger_entries_account_id_id_idx" ON "ledger_entries"("account_id", "id");
CREATE INDEX "ledger_entries_transaction_id_idx" ON "ledger_entries"("transaction_id");
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_transaction_id_fkey" FOREIGN KEY ("transaction_id")
    REFERENCES "ledger_transactions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_account_id_fkey" FOREIGN KEY ("account_id")
    REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The ledger is append-only: corrections are new reversing transactions, never edits.
CREATE FUNCTION "ledger_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER "ledger_entries_append_only" BEFORE UPDATE OR DELETE ON "ledger_entries"
    FOR EACH ROW EXECUTE FUNCTION "ledger_reject_change"();
CREATE TRIGGER "ledger_entries_no_truncate" BEFORE TRUNCATE ON "ledger_entries"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_reject_change"();
CREATE TRIGGER "ledger_transactions_append_only" BEFORE UPDATE OR DELETE ON "ledger_transactions"
    FOR EACH ROW EXECUTE FUNCTION "ledger_reject_change"();
CREATE TRIGGER "ledger_transactions_no_truncate" BEFORE TRUNCATE ON "ledger_transactions"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_reject_change"();

-- Double entry: at commit, every transaction's entries sum to zero and there are at least two.
CREATE FUNCTION "ledger_check_balanced"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total BIGINT;
    n INTEGER;
BEGIN
    SELECT COALESCE(SUM("amount_minor"), 0), COUNT(*) INTO total, n
      FROM "ledger_entries" WHERE "transaction_id" = NEW."transaction_id";
    IF total <> 0 OR n < 2 THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced (% entries, sum %)', NEW."transaction_id", n, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER "ledger_entries_balanced" AFTER INSERT ON "ledger_entries"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "ledger_check_balanced"();

-- ---------------------------------------------------------------- outbox and consumers
CREATE TABLE "outbox_events" (
    "id" BIGSERIAL NOT NULL,
    "event_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "schema_version" INTEGER NOT NULL,
    "traceparent" TEXT,
    "payload" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),
    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "outbox_events_sequence_check" CHECK ("sequence" >= 1)
);
CREATE UNIQUE INDEX "outbox_events_event_id_key" ON "outbox_events"("event_id");
CREATE UNIQUE INDEX "outbox_events_aggregate_id_sequence_key" ON "outbox_events"("aggregate_id", "sequence");
-- The relay scans only what is still to be published.
CREATE INDEX "outbox_events_pending_idx" ON "outbox_events"("id") WHERE "published_at" IS NULL;

CREATE TABLE "outbox_sequences" (
    "aggregate_id" TEXT NOT NULL,
    "last_sequence" INTEGER NOT NULL,
    CONSTRAINT "outbox_sequences_pkey" PRIMARY KEY ("aggregate_id")
);

CREATE TABLE "processed_events" (
    "consumer_group" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "processed_events_pkey" PRIMARY KEY ("consumer_group", "event_id")
);

-- ---------------------------------------------------------------- API access
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "api_keys_role_check" CHECK ("role" IN ('client', 'admin'))
);

CREATE TABLE "idempotency_keys" (
    "api_key_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "lease_token" UUID,
    "locked_until" TIMESTAMPTZ(3),
    "response_status" INTEGER,
    "response_body" JSONB,
    "response_headers" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("api_key_id", "key"),
    CONSTRAINT "idempotency_keys_state_check" CHECK ("state" IN ('IN_FLIGHT', 'COMPLETED'))
);
CREATE INDEX "idempotency_keys_expires_at_idx" ON "idempotency_keys"("expires_at");

-- The relay LISTENs on this channel, so a commit is published in milliseconds, not a poll
-- interval. Statement-level: one notification per inserting statement (and PostgreSQL folds
-- identical notifications of one transaction into one).
CREATE FUNCTION "outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_events', '');
    RETURN NULL;
END $$;
CREATE TRIGGER "outbox_events_notify" AFTER INSERT ON "outbox_events"
    FOR EACH STATEMENT EXECUTE FUNCTION "outbox_notify"();

-- The database is the source of truth for money (issue 19, hole 8). Before this, the app role
-- could UPDATE accounts.balance_minor, orders.customer_id and api_keys.role directly, and only a
-- full reconciliation pass would have noticed. Now:
--   * a balance is derived from the ledger: inserting ledger entries moves the balances (one
--     statement-level trigger, running as the schema owner), and the app role may not write
--     balance_minor at all, neither by UPDATE nor by INSERT;
--   * an order's customer, key, currency, total and workflow id, and an API key's role, never
--     change after insert (privileges for the app, a trigger for everyone else);
--   * the app role may UPDATE only the columns its code writes (column-level grants).
-- No table or column changes: prisma/schema.prisma is unchanged.

-- ---------------------------------------------------------------- balances follow the ledger
-- One UPDATE per INSERT statement on ledger_entries, summed per account. The accounts are
-- already locked by the caller (services/payments/ledger.ts locks them in id order), and the
-- balance CHECK (never negative but for EXTERNAL) still applies to this UPDATE.
CREATE FUNCTION "ledger_entries_apply"() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE "accounts" a SET "balance_minor" = a."balance_minor" + e."amount_minor", "updated_at" = now()
      FROM (SELECT "account_id", sum("amount_minor") AS "amount_minor" FROM "new_entries" GROUP BY "account_id") e
     WHERE a."id" = e."account_id";
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION "ledger_entries_apply"() FROM PUBLIC;
CREATE TRIGGER "ledger_entries_apply" AFTER INSERT ON "ledger_entries"
    REFERENCING NEW TABLE AS "new_entries" FOR EACH STATEMENT EXECUTE FUNCTION "ledger_entries_apply"();

-- ---------------------------------------------------------------- facts fixed at insert
CREATE FUNCTION "reject_immutable_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % cannot change after insert', TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER "orders_immutable" BEFORE UPDATE ON "orders" FOR EACH ROW
    WHEN (OLD."id" IS DISTINCT FROM NEW."id" OR OLD."customer_id" IS DISTINCT FROM NEW."customer_id"
          OR OLD."api_key_id" IS DISTINCT FROM NEW."api_key_id" OR OLD."currency" IS DISTINCT FROM NEW."currency"
          OR OLD."total_minor" IS DISTINCT FROM NEW."total_minor" OR OLD."workflow_id" IS DISTINCT FROM NEW."workflow_id")
    EXECUTE FUNCTION "reject_immutable_change"('id, customer_id, api_key_id, currency, total_minor and workflow_id');
CREATE TRIGGER "order_items_immutable" BEFORE UPDATE ON "order_items" FOR EACH ROW
    EXECUTE FUNCTION "reject_immutable_change"('an order line');
CREATE TRIGGER "api_keys_immutable" BEFORE UPDATE ON "api_keys" FOR EACH ROW
    WHEN (OLD."id" IS DISTINCT FROM NEW."id" OR OLD."role" IS DISTINCT FROM NEW."role")
    EXECUTE FUNCTION "reject_immutable_change"('id and role');

-- ---------------------------------------------------------------- the app's UPDATE rights, by column
-- Each list is what the code's UPDATE statements (and ON CONFLICT DO UPDATE) write; grep
-- services/ for "UPDATE <table>" when adding one. SELECT ... FOR UPDATE needs UPDATE on at
-- least one column, hence accounts keeps updated_at.
REVOKE UPDATE ON "accounts", "orders", "api_keys", "payments", "reservations", "products", "outbox_sequences",
    "notification_orders", "notifications", "dead_letters", "outbox_events" FROM order_saga_app;
REVOKE INSERT ON "accounts" FROM order_saga_app;
GRANT INSERT ("id", "kind", "currency") ON "accounts" TO order_saga_app;
GRANT UPDATE ("updated_at") ON "accounts" TO order_saga_app;
GRANT UPDATE ("status", "failure_reason", "compensation_window_closes_at", "compensation_window_closed_at", "saga_started_at",
    "updated_at") ON "orders" TO order_saga_app;
GRANT UPDATE ("secret_hash", "revoked_at") ON "api_keys" TO order_saga_app;
GRANT UPDATE ("status", "failure_reason", "charge_tx_id", "refund_tx_id", "updated_at") ON "payments" TO order_saga_app;
GRANT UPDATE ("status", "updated_at") ON "reservations" TO order_saga_app;
GRANT UPDATE ("name", "unit_price_minor", "available", "reserved", "committed", "updated_at") ON "products" TO order_saga_app;
GRANT UPDATE ("last_sequence") ON "outbox_sequences" TO order_saga_app;
GRANT UPDATE ("customer_id", "currency", "total_minor") ON "notification_orders" TO order_saga_app;
GRANT UPDATE ("replay_count", "replayed_at") ON "dead_letters" TO order_saga_app;
GRANT UPDATE ("published_at") ON "outbox_events" TO order_saga_app;

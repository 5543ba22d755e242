-- Least privilege. Migrations run as the owner (DATABASE_OWNER_URL); the app processes
-- connect as a member of order_saga_app, which gets only the rows and verbs they use: no
-- UPDATE, DELETE or TRUNCATE on ledger tables, no DDL (it owns nothing, so it can neither
-- alter a table nor disable a trigger). order_saga_reader reads everything, writes nothing.
-- The group roles are provisioned before migrating (npm run stack, or the DBA / operator).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'order_saga_app')
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'order_saga_reader') THEN
        RAISE EXCEPTION 'roles order_saga_app and order_saga_reader must exist before migrating (README "Database roles")';
    END IF;
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO order_saga_app, order_saga_reader;

-- Reading: the reader sees every table, today's and those later migrations add.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO order_saga_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO order_saga_reader;

-- The app: per table, the verbs its code uses (services/, lib/sql.ts, rate limits).
GRANT SELECT, INSERT, UPDATE ON orders, products, reservations, payments, accounts, outbox_sequences,
    api_keys, notification_orders, notifications, dead_letters TO order_saga_app;
GRANT SELECT, INSERT ON order_items, order_status_history, reservation_items, processed_events,
    audit_timeline, audit_anomalies TO order_saga_app;
-- The ledger is append-only for the app: reading and inserting only.
GRANT SELECT, INSERT ON ledger_transactions, ledger_entries TO order_saga_app;
-- Rows the app legitimately removes: published outbox rows (retention), expired idempotency
-- records and leases, replaced key grants, rate-limit counters.
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_events, idempotency_keys, rate_limits TO order_saga_app;
GRANT SELECT, INSERT, DELETE ON api_key_customers TO order_saga_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO order_saga_app;

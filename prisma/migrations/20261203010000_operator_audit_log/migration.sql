-- The operator audit log (issue 20): one row per sensitive action (compensate, cancel by an
-- admin, resume, dead-letter replay, deposit, product create/restock, key create/grant/revoke,
-- reconciliation run, console sign-in/out), written in the same transaction as its effect by
-- services/access/audit-log.ts. Refused attempts are rows too (outcome refused). Append-only:
-- the app role may insert and read, never update or delete, and a trigger refuses UPDATE,
-- DELETE and TRUNCATE to every role, the owner included. Mirrors OperatorAuditEntry in
-- prisma/schema.prisma. Not the audit *timeline* (audit_timeline: the Kafka projection).
CREATE TABLE "operator_audit_log" (
    "id" BIGSERIAL NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_kind" TEXT NOT NULL,
    "actor_id" TEXT NOT NULL,
    "actor_name" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject_kind" TEXT NOT NULL,
    "subject_id" TEXT NOT NULL,
    "reason" TEXT,
    "request_id" TEXT,
    "outcome" TEXT NOT NULL,
    "detail" JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT "operator_audit_log_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "operator_audit_log_actor_kind_check" CHECK ("actor_kind" IN ('api_key', 'token', 'person', 'temporal', 'cli')),
    CONSTRAINT "operator_audit_log_outcome_check" CHECK ("outcome" IN ('done', 'refused', 'failed')),
    CONSTRAINT "operator_audit_log_action_check" CHECK ("action" ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
    CONSTRAINT "operator_audit_log_detail_check" CHECK (jsonb_typeof("detail") = 'object')
);
-- Filters of GET /admin/audit-log, each walked newest first by id (the keyset cursor).
CREATE INDEX "operator_audit_log_action_id_idx" ON "operator_audit_log"("action", "id");
CREATE INDEX "operator_audit_log_actor_id_id_idx" ON "operator_audit_log"("actor_id", "id");
CREATE INDEX "operator_audit_log_subject_id_id_idx" ON "operator_audit_log"("subject_id", "id");
CREATE INDEX "operator_audit_log_occurred_at_idx" ON "operator_audit_log"("occurred_at");

CREATE FUNCTION "operator_audit_log_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'operator_audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER "operator_audit_log_append_only" BEFORE UPDATE OR DELETE ON "operator_audit_log"
    FOR EACH ROW EXECUTE FUNCTION "operator_audit_log_reject_change"();
CREATE TRIGGER "operator_audit_log_no_truncate" BEFORE TRUNCATE ON "operator_audit_log"
    FOR EACH STATEMENT EXECUTE FUNCTION "operator_audit_log_reject_change"();

-- The app writes and reads rows, nothing else; order_saga_reader reads it through the default
-- privileges of 20261201000200_least_privilege; the reconciler has no business here.
GRANT SELECT, INSERT ON "operator_audit_log" TO order_saga_app;
GRANT USAGE ON SEQUENCE "operator_audit_log_id_seq" TO order_saga_app;

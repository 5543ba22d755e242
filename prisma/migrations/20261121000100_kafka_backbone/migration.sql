-- The Kafka backbone: the audit projector's timeline and anomalies, the notifications
-- consumer's tables and the dead-letter store. Mirrors the models at the end of
-- prisma/schema.prisma (a test checks they agree).

-- ---------------------------------------------------------------- audit projector
CREATE TABLE "audit_timeline" (
    "aggregate_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "event_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "schema_version" INTEGER NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "payload" JSONB NOT NULL,
    "traceparent" TEXT,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audit_timeline_pkey" PRIMARY KEY ("aggregate_id", "sequence"),
    CONSTRAINT "audit_timeline_sequence_check" CHECK ("sequence" >= 1)
);
CREATE UNIQUE INDEX "audit_timeline_event_id_key" ON "audit_timeline"("event_id");

CREATE TABLE "audit_anomalies" (
    "id" BIGSERIAL NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "sequence" INTEGER NOT NULL,
    "expected_sequence" INTEGER NOT NULL,
    "detected_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audit_anomalies_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "audit_anomalies_kind_check" CHECK ("kind" IN ('GAP', 'DUPLICATE', 'OUT_OF_ORDER'))
);
CREATE INDEX "audit_anomalies_aggregate_id_idx" ON "audit_anomalies"("aggregate_id");

-- ---------------------------------------------------------------- customer notifications
CREATE TABLE "notification_orders" (
    "order_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "currency" TEXT NOT NULL,
    "total_minor" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notification_orders_pkey" PRIMARY KEY ("order_id")
);

CREATE TABLE "notifications" (
    "id" BIGSERIAL NOT NULL,
    "event_id" UUID NOT NULL,
    "order_id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "template" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "notifications_status_check" CHECK ("status" IN ('PENDING', 'SENT'))
);
CREATE UNIQUE INDEX "notifications_event_id_template_key" ON "notifications"("event_id", "template");
CREATE INDEX "notifications_order_id_idx" ON "notifications"("order_id");
-- A mailer picks up only what is still to be sent.
CREATE INDEX "notifications_pending_idx" ON "notifications"("id") WHERE "status" = 'PENDING';

-- ---------------------------------------------------------------- dead letters
CREATE TABLE "dead_letters" (
    "id" BIGSERIAL NOT NULL,
    "consumer_group" TEXT NOT NULL,
    "source_topic" TEXT NOT NULL,
    "source_partition" INTEGER NOT NULL,
    "source_offset" BIGINT NOT NULL,
    "dlq_topic" TEXT NOT NULL,
    "event_id" TEXT,
    "event_type" TEXT,
    "message_key" TEXT,
    "value" BYTEA,
    "headers" JSONB NOT NULL,
    "error_class" TEXT NOT NULL,
    "error_message" TEXT NOT NULL,
    "retryable" BOOLEAN NOT NULL,
    "attempts" INTEGER NOT NULL,
    "first_failed_at" TIMESTAMPTZ(3) NOT NULL,
    "last_failed_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "replay_count" INTEGER NOT NULL DEFAULT 0,
    "replayed_at" TIMESTAMPTZ(3),
    CONSTRAINT "dead_letters_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "dead_letters_attempts_check" CHECK ("attempts" >= 1),
    CONSTRAINT "dead_letters_replay_count_check" CHECK ("replay_count" >= 0)
);
-- Recording is idempotent: one row per source message and consumer group, however often
-- a crash makes the group dead-letter it again.
CREATE UNIQUE INDEX "dead_letters_source_key" ON "dead_letters"("source_topic", "source_partition", "source_offset", "consumer_group");

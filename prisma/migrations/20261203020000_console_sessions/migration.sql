-- Console sessions (issue 20). Signing in to /console exchanges an admin API key for a session:
-- the cookie carries a random token, the row is found by its SHA-256 (the token itself is never
-- stored), and every request joins api_keys so a revoked key ends its sessions at once. Idle
-- expiry is last_seen_at + CONSOLE_SESSION_IDLE_MS (checked by the app), absolute expiry is the
-- stored expires_at. Mirrors ConsoleSession in prisma/schema.prisma.
CREATE TABLE "console_sessions" (
    "id" TEXT NOT NULL,
    "api_key_id" UUID NOT NULL,
    "csrf_secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "console_sessions_id_check" CHECK ("id" ~ '^[0-9a-f]{64}$'),
    CONSTRAINT "console_sessions_expiry_check" CHECK ("expires_at" > "created_at")
);

CREATE INDEX "console_sessions_api_key_id_idx" ON "console_sessions"("api_key_id");

ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_api_key_id_fkey"
    FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The app signs in (INSERT), touches (last_seen_at) and signs out (revoked_at); it never deletes.
GRANT SELECT, INSERT ON "console_sessions" TO order_saga_app;
GRANT UPDATE ("last_seen_at", "revoked_at") ON "console_sessions" TO order_saga_app;

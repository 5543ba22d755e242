-- The trust boundary in the database: which customers a client key may act for, the shared
-- rate-limit counters of every API instance, and reserved account ids. Mirrors the models
-- ApiKeyCustomer and RateLimit in prisma/schema.prisma (a test checks they agree).

-- ---------------------------------------------------------------- principals
-- A client key acts only for the customers granted to it; orders belong to the customer, so a
-- rotated key with the same grants keeps access. Admin keys need no grants.
CREATE TABLE "api_key_customers" (
    "api_key_id" UUID NOT NULL,
    "customer_id" TEXT NOT NULL,
    "granted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "api_key_customers_pkey" PRIMARY KEY ("api_key_id", "customer_id")
);
CREATE INDEX "api_key_customers_customer_id_idx" ON "api_key_customers"("customer_id");
ALTER TABLE "api_key_customers" ADD CONSTRAINT "api_key_customers_api_key_id_fkey" FOREIGN KEY ("api_key_id")
    REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- No order for a customer its key was not granted: the API checks first, the database refuses
-- whatever gets past it. Admin keys may order for anyone.
CREATE FUNCTION "orders_require_grant"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM "api_keys" k WHERE k."id" = NEW."api_key_id" AND k."role" = 'admin')
       AND NOT EXISTS (SELECT 1 FROM "api_key_customers" g WHERE g."api_key_id" = NEW."api_key_id" AND g."customer_id" = NEW."customer_id") THEN
        RAISE EXCEPTION 'API key % is not granted customer %', NEW."api_key_id", NEW."customer_id"
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER "orders_require_grant" BEFORE INSERT ON "orders"
    FOR EACH ROW EXECUTE FUNCTION "orders_require_grant"();

-- ---------------------------------------------------------------- reserved account ids
-- merchant:<CUR> and external:<CUR> are the system's own accounts; a customer may not take one.
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_reserved_id_check"
    CHECK ("kind" <> 'CUSTOMER' OR "id" !~ '^(merchant|external):');

-- ---------------------------------------------------------------- rate limits
-- rate-limiter-flexible's PostgreSQL store (its own layout): one counter per key and window,
-- shared by every API instance.
CREATE TABLE "rate_limits" (
    "key" VARCHAR(255) NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,
    CONSTRAINT "rate_limits_pkey" PRIMARY KEY ("key")
);

-- OAuth2 machine clients (issue 23). A client that authenticates with an access token from the
-- configured issuer is registered as a principal row in api_keys, with its OAuth2 client id and
-- no secret: its grants (api_key_customers), its orders (orders.api_key_id), its idempotency
-- keys and the orders_require_grant trigger are then exactly those of an API key. Mirrors
-- ApiKey.oauthClientId in prisma/schema.prisma.
ALTER TABLE "api_keys" ADD COLUMN "oauth_client_id" TEXT;
CREATE UNIQUE INDEX "api_keys_oauth_client_id_key" ON "api_keys"("oauth_client_id");

-- A token client is a tenant (role client) and never authenticates as an API key: its stored
-- hash is the all-zero one no secret hashes to (services/access/api-keys.ts refuses it).
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_token_client_check"
    CHECK ("oauth_client_id" IS NULL OR ("role" = 'client' AND "secret_hash" = repeat('0', 64)));
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_oauth_client_id_check"
    CHECK ("oauth_client_id" IS NULL OR "oauth_client_id" ~ '^[\x21-\x7e]{1,255}$');

-- The client id is fixed at insert, like the role.
DROP TRIGGER "api_keys_immutable" ON "api_keys";
CREATE TRIGGER "api_keys_immutable" BEFORE UPDATE ON "api_keys" FOR EACH ROW
    WHEN (OLD."id" IS DISTINCT FROM NEW."id" OR OLD."role" IS DISTINCT FROM NEW."role"
          OR OLD."oauth_client_id" IS DISTINCT FROM NEW."oauth_client_id")
    EXECUTE FUNCTION "reject_immutable_change"('id, role and oauth_client_id');

-- People signed in to the console with OIDC (issue 23). A person is registered on first sign-in
-- as a principal row in api_keys with the issuer and subject that name them and no secret (it
-- can never authenticate as an API key), like a token client: their console sessions, the rate
-- limit and the kill switch (revoking the row ends every session of that person) are a key's.
-- The row's role is never what the person may do: a person's session carries the console roles
-- the issuer vouched for at sign-in (person_roles), and those roles' permissions apply.
-- Mirrors ApiKey.personIssuer/personSubject and ConsoleSession.personRoles in prisma/schema.prisma.
ALTER TABLE "api_keys" ADD COLUMN "person_issuer" TEXT;
ALTER TABLE "api_keys" ADD COLUMN "person_subject" TEXT;
CREATE UNIQUE INDEX "api_keys_person_issuer_person_subject_key" ON "api_keys"("person_issuer", "person_subject");

ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_person_check"
    CHECK (("person_issuer" IS NULL) = ("person_subject" IS NULL)
       AND ("person_subject" IS NULL OR ("role" = 'client' AND "secret_hash" = repeat('0', 64) AND "oauth_client_id" IS NULL)));
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_person_subject_check"
    CHECK ("person_subject" IS NULL OR (length("person_subject") BETWEEN 1 AND 255 AND length("person_issuer") BETWEEN 1 AND 2048));

-- Who a row is, is fixed at insert.
DROP TRIGGER "api_keys_immutable" ON "api_keys";
CREATE TRIGGER "api_keys_immutable" BEFORE UPDATE ON "api_keys" FOR EACH ROW
    WHEN (OLD."id" IS DISTINCT FROM NEW."id" OR OLD."role" IS DISTINCT FROM NEW."role"
          OR OLD."oauth_client_id" IS DISTINCT FROM NEW."oauth_client_id"
          OR OLD."person_issuer" IS DISTINCT FROM NEW."person_issuer"
          OR OLD."person_subject" IS DISTINCT FROM NEW."person_subject")
    EXECUTE FUNCTION "reject_immutable_change"('id, role, oauth_client_id and the person');

-- A person's session: their console roles at sign-in (empty for an API key's session; Prisma
-- has no nullable lists).
ALTER TABLE "console_sessions" ADD COLUMN "person_roles" TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_person_roles_check"
    CHECK (cardinality("person_roles") = 0 OR (cardinality("person_roles") BETWEEN 1 AND 4
           AND "person_roles" <@ ARRAY['operator', 'finance', 'key-admin', 'auditor']::text[]));

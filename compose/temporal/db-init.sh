#!/bin/sh
# One-shot (postgres image, for psql): Temporal's own login and its two databases, as the
# superuser over verified TLS. The login's password is its file's at every run (a rotated
# file takes effect here; restart temporal after it).
set -eu
S=${SECRETS_MOUNT:-/run/order-saga}
export PGPASSWORD="$(tr -d '\n' <"$S/secrets/pg-postgres.password")"
psql "host=postgres port=5432 dbname=postgres user=postgres sslmode=verify-full sslrootcert=$S/ca/ca.pem" \
  -v ON_ERROR_STOP=1 -v login=order_saga_temporal -v password="$(tr -d '\n' <"$S/secrets/pg-order_saga_temporal.password")" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'login') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'login') \gexec
ALTER ROLE :"login" PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', db, :'login') FROM unnest(ARRAY['temporal', 'temporal_visibility']) AS db
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = db) \gexec
-- Temporal's databases only: a commit returns before its WAL reaches disk (the app's stay fully durable).
ALTER DATABASE temporal SET synchronous_commit = off;
ALTER DATABASE temporal_visibility SET synchronous_commit = off;
SQL

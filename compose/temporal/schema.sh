#!/bin/sh
# One-shot (admin-tools image): brings Temporal's two schemas to the version the server
# needs, as its own login over verified TLS; idempotent. The versioned schema files are
# embedded in temporal-sql-tool (--schema-name), as scripts/stack/temporal-server.ts runs it.
set -eu
S=${SECRETS_MOUNT:-/run/order-saga}
export SQL_PASSWORD="$(tr -d '\n' <"$S/secrets/pg-order_saga_temporal.password")"
for pair in temporal:postgresql/v12/temporal temporal_visibility:postgresql/v12/visibility; do
  db=${pair%%:*}
  schema=${pair#*:}
  set -- --plugin postgres12_pgx --ep postgres -p 5432 -u order_saga_temporal --db "$db" --tls --tls-ca-file "$S/ca/ca.pem"
  temporal-sql-tool "$@" setup-schema -v 0.0
  temporal-sql-tool "$@" update-schema --schema-name "$schema"
done

#!/bin/sh
# One-shot (admin-tools image): the namespace and the saga's search attributes, with the
# operators' client certificate. Arguments: `--search-attribute NAME=Type` for each one.
#   init.sh --search-attribute OrderId=Keyword --search-attribute CustomerId=Keyword
set -eu
S=${SECRETS_MOUNT:-/run/order-saga}
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
RETENTION=${TEMPORAL_RETENTION:-72h}
t() {
  temporal "$@" --address temporal:7233 --tls-ca-path "$S/ca/ca.pem" \
    --tls-cert-path "$S/certs/temporal-cli.pem" --tls-key-path "$S/certs/temporal-cli.key" --tls-server-name temporal
}
t operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1 ||
  t operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
for attribute in "$@"; do
  [ "$attribute" = --search-attribute ] && continue
  name=${attribute%%=*}
  type=${attribute#*=}
  # A new namespace reaches the server's registry within seconds: retry until then (60 s).
  tries=0
  until out=$(t operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type" 2>&1); do
    case "$out" in *"already exists"*) break ;; esac
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then echo "$out" >&2; exit 1; fi
    sleep 2
  done
  echo "search attribute $name ($type) on $NAMESPACE"
done

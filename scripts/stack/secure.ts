/**
 * The secure stack mode (`npm run stack -- up --secure`): every hop authenticated and
 * encrypted, as production runs it. PostgreSQL with TLS and scram-sha-256 only, Kafka with
 * SASL_SSL (SCRAM-SHA-512) and ACLs per app role, the full Temporal server with mTLS on its
 * frontend and internode ports, its Web UI and both CLIs with client certificates, the API on
 * HTTPS. The credentials (scripts/stack/pki.ts) live under `$STACK_DIR/secure/`; the app reads
 * them from files through the `*_FILE` variables, written to `$STACK_DIR/secure/secure.env`.
 *
 * A stack directory is secure from its first `up --secure` on (its CA exists): later commands
 * (status, down, exec, logs) need no flag. The developer stack (no flag) keeps trust auth.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileVariable, type Env } from '../../lib/env-vars';
import { loadStackConfig, type StackConfig } from './config';
import { ensurePki, pkiAt, type Pki } from './pki';

/** The Kafka principal of each app role (KAFKA_SASL_USERNAME), and the stack's own admin (a super user). */
export const KAFKA_PRINCIPALS = {
  admin: 'order-saga-admin',
  relay: 'order-saga-relay',
  api: 'order-saga-api',
  'consumer-audit': 'order-saga-consumer-audit',
  'consumer-notifications': 'order-saga-consumer-notifications',
  operator: 'order-saga-operator',
} as const;
export type KafkaPrincipal = keyof typeof KAFKA_PRINCIPALS;

const kafkaSecret = (p: KafkaPrincipal) => `kafka-${KAFKA_PRINCIPALS[p]}.password`;
const pgSecret = (role: string) => `pg-${role}.password`;

/** The PostgreSQL logins of the stack, their URL variable and secret names. */
function databaseLogins(cfg: StackConfig) {
  return [
    { variable: 'DATABASE_URL', settings: cfg.database },
    { variable: 'DATABASE_OWNER_URL', settings: cfg.databaseOwner },
    { variable: 'DATABASE_READER_URL', settings: cfg.databaseReader },
    { variable: 'RECONCILER_DATABASE_URL', settings: cfg.reconciler.database },
  ] as const;
}

/** The superuser of the stack's cluster (scram password, TLS) and of nobody else. */
export const PG_SUPERUSER = 'postgres';

/** True once `up --secure` made this stack directory's CA. */
export function isSecureStack(stackDir: string): boolean {
  return fs.existsSync(pkiAt(stackDir).caCert);
}

/** Where the app environment of the secure stack is written (`. $STACK_DIR/secure/secure.env`). */
export const secureEnvFile = (stackDir: string) => path.join(pkiAt(stackDir).dir, 'secure.env');

/** A postgresql:// URL with TLS verified against the stack's CA (host name included) and the role's password. */
function secureUrl(url: string, password: string, ca: string): string {
  const u = new URL(url);
  u.password = password;
  u.searchParams.set('sslmode', 'verify-full');
  u.searchParams.set('sslrootcert', ca);
  return u.toString();
}

/** Kafka credentials of one principal, as environment (KAFKA_SASL_USERNAME + KAFKA_SASL_PASSWORD_FILE). */
export function kafkaPrincipalEnv(pki: Pki, principal: KafkaPrincipal): Record<string, string> {
  return {
    KAFKA_SASL_USERNAME: KAFKA_PRINCIPALS[principal],
    [fileVariable('KAFKA_SASL_PASSWORD')]: pki.secretFile(kafkaSecret(principal)),
  };
}

/**
 * The app environment of the secure stack: every credential as a file. Kafka: the operators'
 * principal; each app role overrides it with its own (kafkaPrincipalEnv): one role, one
 * principal. Variables the `_FILE` ones replace are unset (`null`).
 */
function secureEnv(cfg: StackConfig, pki: Pki): Record<string, string | null> {
  const env: Record<string, string | null> = {
    STACK_SECURE: 'true',
    TEMPORAL_PERSISTENCE: 'postgres',
    POSTGRES_SUPERUSER_PASSWORD: null,
    [fileVariable('POSTGRES_SUPERUSER_PASSWORD')]: pki.secretFile(pgSecret(PG_SUPERUSER)),
    ADMIN_API_KEY: null,
    [fileVariable('ADMIN_API_KEY')]: pki.secretFile('admin-api-key'),
    API_TLS_CERT: null,
    API_TLS_KEY: null,
    [fileVariable('API_TLS_CERT')]: pki.cert('server').cert,
    [fileVariable('API_TLS_KEY')]: pki.cert('server').key,
    TEMPORAL_TLS_CA: null,
    TEMPORAL_TLS_CERT: null,
    TEMPORAL_TLS_KEY: null,
    [fileVariable('TEMPORAL_TLS_CA')]: pki.caCert,
    [fileVariable('TEMPORAL_TLS_CERT')]: pki.cert('temporal-app').cert,
    [fileVariable('TEMPORAL_TLS_KEY')]: pki.cert('temporal-app').key,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA: null,
    [fileVariable('KAFKA_SSL_CA')]: pki.caCert,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    // The operators' principal by default (the DLQ CLI); each app role runs as its own (kafkaPrincipalEnv).
    KAFKA_SASL_PASSWORD: null,
    ...kafkaPrincipalEnv(pki, 'operator'),
  };
  for (const { variable, settings } of databaseLogins(cfg)) {
    const file = pki.secretFile(`${variable.toLowerCase().replace(/_/g, '-')}`);
    fs.writeFileSync(file, `${secureUrl(settings.url, pki.secret(pgSecret(settings.user)), pki.caCert)}\n`, { mode: 0o600 });
    env[variable] = null;
    env[fileVariable(variable)] = file;
  }
  return env;
}

const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/** Applies an environment overlay to `env` (null unsets). */
export function overlay(env: Env, changes: Record<string, string | null>): void {
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
}

/**
 * Makes the stack's credentials if missing (`create`), points this process's environment at
 * them (child processes inherit it) and returns the stack configuration read through them.
 */
export async function enterSecureMode(base: StackConfig, env: NodeJS.ProcessEnv = process.env): Promise<StackConfig> {
  if (env.TEMPORAL_PERSISTENCE?.trim() === 'sqlite') {
    throw new Error(
      'the secure stack runs the full Temporal server: unset TEMPORAL_PERSISTENCE=sqlite (the dev server has no client-certificate check)',
    );
  }
  const logins = databaseLogins(base);
  const pki = await ensurePki(base.stack.dir, [
    pgSecret(PG_SUPERUSER),
    ...logins.map((l) => pgSecret(l.settings.user)),
    ...(Object.keys(KAFKA_PRINCIPALS) as KafkaPrincipal[]).map(kafkaSecret),
    'admin-api-key',
  ]);
  const changes = secureEnv(base, pki);
  fs.writeFileSync(
    secureEnvFile(base.stack.dir),
    [
      '# The app environment of the secure stack (npm run stack -- up --secure). Source it, then give each app',
      '# role its own Kafka principal: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE (docs/security.md).',
      ...Object.entries(changes).map(([k, v]) => (v === null ? `unset ${k}` : `export ${k}=${shellQuote(v)}`)),
      `export STACK_DIR=${shellQuote(base.stack.dir)}`,
    ].join('\n') + '\n',
    { mode: 0o600 },
  );
  overlay(env, changes);
  env.STACK_DIR = base.stack.dir;
  return loadStackConfig(env);
}

/** The stack's PKI, when cfg is a secure stack's. */
export function securePki(cfg: StackConfig): Pki | undefined {
  return cfg.stack.secure ? pkiAt(cfg.stack.dir) : undefined;
}

/** The Kafka admin principal's SASL settings (a super user: topics, ACLs, health). */
export function kafkaAdminSasl(pki: Pki): { mechanism: 'scram-sha-512'; username: string; password: string } {
  return { mechanism: 'scram-sha-512', username: KAFKA_PRINCIPALS.admin, password: pki.secret(kafkaSecret('admin')) };
}

/** Every Kafka principal and its password (for the SCRAM credentials formatted into the broker's storage). */
export function kafkaCredentials(pki: Pki): { name: string; password: string }[] {
  return (Object.keys(KAFKA_PRINCIPALS) as KafkaPrincipal[]).map((p) => ({
    name: KAFKA_PRINCIPALS[p],
    password: pki.secret(kafkaSecret(p)),
  }));
}

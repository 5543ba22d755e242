/**
 * docker-compose.yml can't be run here (no Docker engine), so these tests keep it honest
 * statically: pinned images, the same host ports and environment variable names as the
 * declarations in lib/config.ts (app) and scripts/stack/config.ts (local stack), one service
 * per app role, and the Temporal/Kafka settings the app needs; and its security defaults:
 * no trust auth, no plaintext client listener, TLS verified by name, every credential from a
 * file the one-shot `secrets-init` service generates (compose/secrets-init.sh, run here into
 * a temporary directory so the app services' environments can be loaded for real).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AclOperationTypes, AclResourceTypes } from 'kafkajs';
import { parse } from 'yaml';
import { APP_VARIABLES, loadConfig, repoRoot } from '../../lib/config';
import { fileVariable } from '../../lib/env-vars';
import { loadStackConfig, STACK_VARIABLES } from '../../scripts/stack/config';
import { appAcls } from '../../scripts/stack/kafka';
import { KAFKA_PRINCIPALS } from '../../scripts/stack/secure';
import { dynamicConfig } from '../../scripts/stack/temporal-server';
import { SEARCH_ATTRIBUTES } from '../../services/orders/contract';
import { compiledCommand } from '../support/build';

type Scalar = string | number | boolean | null;

interface LongPort {
  target: number | string;
  published?: number | string;
  host_ip?: string;
}

interface Service {
  image?: string;
  build?: unknown;
  entrypoint?: string | string[];
  command?: string | string[];
  volumes?: string[];
  profiles?: string[];
  environment?: Record<string, Scalar> | string[];
  ports?: (string | number | LongPort)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
}

interface Compose {
  services: Record<string, Service>;
}

interface PortMapping {
  hostIp?: string;
  published?: number;
  target: number;
}

/** App roles and their metrics port offsets (METRICS_PORT_BASE + offset). */
const ROLE_METRICS_OFFSETS = {
  api: 1,
  'worker-orders': 2,
  'worker-payments': 3,
  'worker-inventory': 4,
  relay: 5,
  'consumer-audit': 6,
  'consumer-notifications': 7,
  reconciler: 8,
} as const;
const ROLES = Object.keys(ROLE_METRICS_OFFSETS) as (keyof typeof ROLE_METRICS_OFFSETS)[];

const INFRASTRUCTURE = ['postgres', 'temporal', 'kafka'] as const;

/** Jaeger's standard ports (not app configuration: the app only knows the OTLP endpoint). */
const JAEGER = { ui: 16686, otlpHttp: 4318 } as const;

function loadCompose(file = 'docker-compose.yml'): Compose {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  // merge: the app services share their definition through `<<: *app`.
  const doc: unknown = parse(text, { merge: true });
  if (typeof doc !== 'object' || doc === null || !('services' in doc)) {
    throw new Error(`${file} has no services`);
  }
  return doc as Compose;
}

const compose = loadCompose();
const defaults = loadConfig({});
/** The local stack's ports (Temporal's Web UI, Prometheus), which compose publishes too. */
const stackDefaults = loadStackConfig({}).stack;

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
}

/** Services built from the repository's Dockerfile, i.e. the app processes (and migrate). */
function appServices(): [string, Service][] {
  return Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
}

/**
 * Resolves Compose interpolation as it would with nothing set in the shell:
 * ${VAR:-default} and ${VAR-default} give the default, ${VAR} and $VAR give '', $$ gives $.
 */
function interpolate(value: string): string {
  const reference = /\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?:(:?[-?])(.*?))?\}|\$[A-Za-z_][A-Za-z0-9_]*/g;
  return value.replace(reference, (match: string, operator: string | undefined, operand: string | undefined) => {
    if (match === '$$') return '$';
    if (operator?.endsWith('?')) throw new Error(`${match} requires a variable to be set`);
    return operator ? (operand ?? '') : '';
  });
}

/** The condition a service waits for on each of its dependencies. */
function dependsOn(s: Service): Record<string, string> {
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([d, v]) => [d, v.condition ?? 'service_started']));
}

/** The one service whose command runs `node dist/app/main.js <role>`. */
function roleService(role: string): [string, Service] {
  const matches = Object.entries(compose.services).filter(([, s]) => commandArgs(s).join(' ') === `node dist/app/main.js ${role}`);
  if (matches.length !== 1) {
    throw new Error(`expected one service running node dist/app/main.js ${role}, found ${matches.length}`);
  }
  return matches[0]!;
}

/** Where every service mounts the volume secrets-init fills (certificates, passwords, URL files). */
const SECRETS_MOUNT = '/run/order-saga';

let generated: string | undefined;

/**
 * The secrets volume as compose/secrets-init.sh fills it, made once into a temporary
 * directory that stands for SECRETS_MOUNT (the script writes that path into the URL files).
 */
function secretsDir(): string {
  if (generated) return generated;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-secrets-'));
  execFileSync('sh', [path.join(repoRoot, 'compose', 'secrets-init.sh'), 'init'], {
    env: {
      ...process.env,
      SECRETS_DIR: path.join(dir, 'volume'),
      SECRETS_MOUNT: path.join(dir, 'volume'),
      CA_DIR: path.join(dir, 'ca'),
      TEMPLATES_DIR: path.join(repoRoot, 'compose'),
      SECRETS_OWNER: '',
    },
    stdio: 'pipe',
  });
  generated = path.join(dir, 'volume');
  return generated;
}

afterAll(() => {
  if (generated) fs.rmSync(path.dirname(generated), { recursive: true, force: true });
});

/** A path inside a container, as this machine reads it (the secrets volume is the temporary copy). */
function hostPath(containerPath: string): string {
  if (containerPath === SECRETS_MOUNT || containerPath.startsWith(`${SECRETS_MOUNT}/`)) {
    return secretsDir() + containerPath.slice(SECRETS_MOUNT.length);
  }
  if (containerPath.startsWith('/etc/order-saga/')) return path.join(repoRoot, 'compose', containerPath.slice('/etc/order-saga/'.length));
  return containerPath;
}

/** A service's environment as the container would see it (unset shell variables resolved, mounted files readable here). */
function environmentOf(s: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(rawEnvironmentOf(s)).map(([k, v]) => [k, hostPath(v)]));
}

/** A service's environment as written (unset shell variables resolved). */
function rawEnvironmentOf(s: Service): Record<string, string> {
  const env: Record<string, string> = {};
  if (Array.isArray(s.environment)) {
    for (const entry of s.environment) {
      const eq = entry.indexOf('=');
      // A bare NAME passes the shell's value through; the shell has none here.
      if (eq < 0) continue;
      env[entry.slice(0, eq)] = interpolate(entry.slice(eq + 1));
    }
  } else {
    for (const [name, value] of Object.entries(s.environment ?? {})) {
      if (value === null) continue;
      env[name] = interpolate(String(value));
    }
  }
  return env;
}

function toPort(value: string | number, what: string): number {
  const text = String(value);
  if (!/^\d{1,5}$/.test(text)) throw new Error(`unsupported port "${text}" in ${what}`);
  return Number(text);
}

function portsOf(name: string, s: Service): PortMapping[] {
  return (s.ports ?? []).map((p) => {
    const what = `ports of service "${name}"`;
    if (typeof p === 'object') {
      return {
        hostIp: p.host_ip,
        published: p.published === undefined ? undefined : toPort(p.published, what),
        target: toPort(p.target, what),
      };
    }
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    if (parts.length === 1) return { target: toPort(parts[0]!, what) };
    if (parts.length === 2) return { published: toPort(parts[0]!, what), target: toPort(parts[1]!, what) };
    if (parts.length === 3) {
      return { hostIp: parts[0], published: toPort(parts[1]!, what), target: toPort(parts[2]!, what) };
    }
    throw new Error(`unsupported port "${String(p)}" in ${what}`);
  });
}

/** The container port that host port `published` of service `name` forwards to. */
function targetOf(name: string, published: number): number | undefined {
  return portsOf(name, service(name)).find((p) => p.published === published)?.target;
}

function commandArgs(s: Service): string[] {
  if (s.command === undefined) return [];
  return Array.isArray(s.command) ? s.command.map(String) : s.command.split(/\s+/).filter(Boolean);
}

/** Splits an image reference into name, tag and digest (a registry port is not a tag). */
function imageParts(image: string): { name: string; tag?: string; digest?: string } {
  const [ref, digest] = image.split('@') as [string, string | undefined];
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1), digest };
  return { name: ref, digest };
}

function pick<T extends object>(o: T, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]]));
}

/** The stack variable migrate reads to provision as the superuser. */
const PROVISIONING_PASSWORD = fileVariable('POSTGRES_SUPERUSER_PASSWORD');

/** A compose/ file, as the repository holds it (mounted read-only at /etc/order-saga). */
const composeFile = (name: string) => fs.readFileSync(path.join(repoRoot, 'compose', name), 'utf8');

/** compose/kafka/server.properties (the template secrets-init renders), as key -> value. */
function kafkaProperties(): Record<string, string> {
  return Object.fromEntries(
    composeFile('kafka/server.properties')
      .split('\n')
      .filter((l) => l.trim() && !l.trimStart().startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
  );
}

describe('docker-compose.yml', () => {
  it('pins every image to an explicit tag that is not latest', () => {
    const images = Object.entries(compose.services).flatMap(([name, s]) => (s.image ? [[name, s.image]] : []));
    expect(images.length).toBeGreaterThanOrEqual(INFRASTRUCTURE.length);
    for (const [name, image] of images) {
      const { tag, digest } = imageParts(image!);
      const pinned = digest !== undefined || (tag !== undefined && tag !== 'latest' && tag !== '');
      if (!pinned) throw new Error(`service "${name}" uses unpinned image "${image}"`);
      expect(tag).not.toBe('latest');
    }
  });

  it('builds the app from a Dockerfile whose base images are pinned', () => {
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^\s*FROM\s+(?:--\S+\s+)*(\S+)/gim)].map((m) => m[1]!);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) {
      const { tag, digest } = imageParts(base);
      expect({ base, pinned: digest !== undefined || (tag !== undefined && tag !== 'latest') }).toEqual({
        base,
        pinned: true,
      });
    }
  });

  it('builds the image in two stages: the build compiles, the runtime has production dependencies and dist/ only', () => {
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const stages = dockerfile.split(/^\s*FROM\s+/im).slice(1);
    expect(stages.length).toBe(2);
    const [build, runtime] = stages as [string, string];
    const runs = (stage: string) => [...stage.matchAll(/^\s*RUN\s+(.+)$/gim)].map((m) => m[1]!.trim());
    expect(runs(build)).toEqual(expect.arrayContaining(['npm ci', 'npm run build']));
    expect(runs(runtime).join(' && ')).toMatch(/(^|&& )npm ci --omit=dev( |$)/);
    expect(runs(runtime).join(' ')).not.toMatch(/tsx|npm run build|\btsc\b/);
    const fromBuild = [...runtime.matchAll(/^\s*COPY\s+--from=build\s+(\S+)/gim)].map((m) => m[1]!);
    expect(fromBuild).toContain('/app/dist');
    const cmd = /^\s*CMD\s+(\[.*\])\s*$/im.exec(runtime)?.[1];
    expect(compiledCommand(JSON.parse(cmd ?? '[]') as string[])).toEqual({ source: 'app/main.ts', args: ['api'] });
  });

  it('keeps TypeScript tooling out of the production dependencies the runtime stage installs', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies).filter((d) => ['tsx', 'typescript', 'ts-node', '@swc/core'].includes(d))).toEqual([]);
  });

  it('has the infrastructure services postgres, temporal and kafka', () => {
    for (const name of INFRASTRUCTURE) {
      expect(compose.services[name]).toBeDefined();
      expect(compose.services[name]!.image).toEqual(expect.any(String));
    }
  });

  it('publishes exactly the host ports of the loadConfig({}) defaults', () => {
    const firstBroker = defaults.kafka.brokers[0]!;
    const expected = [
      defaults.api.port,
      defaults.database.port,
      defaults.temporal.port,
      stackDefaults.temporal.uiPort,
      Number(firstBroker.split(':').pop()),
      ...ROLES.map((role) => defaults.metrics.portBase + ROLE_METRICS_OFFSETS[role]),
      stackDefaults.prometheus.port,
      JAEGER.ui,
      JAEGER.otlpHttp,
    ].sort((a, b) => a - b);
    const published = Object.entries(compose.services)
      .flatMap(([name, s]) => portsOf(name, s))
      .map((p) => p.published)
      .filter((p): p is number => p !== undefined)
      .sort((a, b) => a - b);
    expect(published).toEqual(expected);
  });

  it('publishes each infrastructure port from the service that serves it', () => {
    expect(targetOf('postgres', defaults.database.port)).toBeDefined();
    expect(targetOf('temporal', defaults.temporal.port)).toBeDefined();
    expect(targetOf('temporal-ui', stackDefaults.temporal.uiPort)).toBeDefined();
    expect(targetOf('kafka', Number(defaults.kafka.brokers[0]!.split(':').pop()))).toBeDefined();
    expect(targetOf('api', defaults.api.port)).toBeDefined();
  });

  it('forwards host ports to the container ports the app and servers actually use', () => {
    for (const [name, s] of appServices()) {
      const cfg = loadConfig(environmentOf(s));
      expect({ name, postgres: targetOf('postgres', defaults.database.port) }).toEqual({ name, postgres: cfg.database.port });
      expect({ name, temporal: targetOf('temporal', defaults.temporal.port) }).toEqual({ name, temporal: cfg.temporal.port });
    }
    const api = loadConfig(environmentOf(service('api')));
    expect(targetOf('api', defaults.api.port)).toBe(api.api.port);
    expect(api.api.host).toBe('0.0.0.0');

    const uiPort = environmentOf(service('temporal-ui')).TEMPORAL_UI_PORT;
    expect(targetOf('temporal-ui', stackDefaults.temporal.uiPort)).toBe(Number(uiPort));

    // The host listener must advertise the address a host client dials.
    const broker = kafkaProperties();
    const hostBroker = defaults.kafka.brokers[0]!;
    expect(broker['advertised.listeners']).toContain(`://${hostBroker}`);
    const hostListener = (broker['advertised.listeners'] ?? '')
      .split(',')
      .find((l) => l.endsWith(`://${hostBroker}`))!
      .split('://')[0]!;
    const hostTarget = targetOf('kafka', Number(hostBroker.split(':').pop()));
    expect(broker.listeners).toContain(`${hostListener}://0.0.0.0:${hostTarget}`);
  });

  it('publishes each role its metrics port METRICS_PORT_BASE + offset', () => {
    for (const role of ROLES) {
      const [name, s] = roleService(role);
      const cfg = loadConfig(environmentOf(s));
      const port = cfg.metrics.portBase + ROLE_METRICS_OFFSETS[role];
      expect({ role, published: defaults.metrics.portBase + ROLE_METRICS_OFFSETS[role], target: port }).toEqual({
        role,
        published: portsOf(name, s).find((p) => p.target === port)?.published,
        target: port,
      });
    }
  });

  it('sets on app services only environment variables that lib/config.ts declares for the app', () => {
    // A secret's variable may name a file instead (`<NAME>_FILE`, lib/env-vars.ts).
    const fromFile = APP_VARIABLES.names.filter((n) => APP_VARIABLES.declaration(n)?.fromFile).map(fileVariable);
    const known = new Set<string>([...APP_VARIABLES.names, ...fromFile]);
    const apps = appServices();
    expect(apps.length).toBeGreaterThanOrEqual(ROLES.length);
    for (const [name, s] of apps) {
      const unknown = Object.keys(rawEnvironmentOf(s)).filter((v) => !known.has(v));
      // migrate provisions the roles as the superuser (scripts/stack/postgres.ts ensureDatabase): it alone needs its password.
      expect({ service: name, unknown }).toEqual({ service: name, unknown: name === 'migrate' ? [PROVISIONING_PASSWORD] : [] });
    }
  });

  it('sets no local-stack variable on an app service (the app never reads one)', () => {
    for (const [name, s] of appServices()) {
      const stackOnly = Object.keys(environmentOf(s)).filter((v) => (STACK_VARIABLES.names as readonly string[]).includes(v));
      expect({ service: name, stackOnly }).toEqual({ service: name, stackOnly: [] });
    }
  });

  it('gives every app service an environment that loadConfig accepts', () => {
    for (const [name, s] of appServices()) {
      const env = environmentOf(s);
      expect(Object.keys(env).length).toBeGreaterThan(0);
      let error: unknown;
      try {
        loadConfig(env);
      } catch (err) {
        error = err;
      }
      expect({ service: name, error }).toEqual({ service: name, error: undefined });
    }
  });

  it('points app services at the compose services postgres, temporal and kafka', () => {
    for (const [name, s] of appServices()) {
      const cfg = loadConfig(environmentOf(s));
      const hosts = {
        database: cfg.database.host,
        temporal: cfg.temporal.host,
        kafka: cfg.kafka.brokers.map((b) => b.split(':')[0]),
      };
      expect({ service: name, ...hosts }).toEqual({
        service: name,
        database: 'postgres',
        temporal: 'temporal',
        kafka: cfg.kafka.brokers.map(() => 'kafka'),
      });
    }
  });

  it.each(ROLES)('runs role %s from a service whose command is node dist/app/main.js <role>', (role) => {
    const [name, s] = roleService(role);
    expect(s.build).toBeDefined();
    expect({ service: name, ...compiledCommand(commandArgs(s)) }).toEqual({ service: name, source: 'app/main.ts', args: [role] });
  });

  it('runs every app service as compiled JavaScript the build emits, with node and no TypeScript loader', () => {
    for (const [name, s] of appServices()) {
      expect({ service: name, problem: compiledCommand(commandArgs(s)).problem }).toEqual({ service: name, problem: undefined });
    }
  });

  it('runs migrations in a one-shot service the app services wait for; demo data only under the demo profile', () => {
    const migrate = service('migrate');
    expect(compiledCommand(commandArgs(migrate)).source).toBe('scripts/migrate.ts');
    expect(commandArgs(migrate).join(' ')).not.toMatch(/seed/);
    const seed = service('seed') as Service & { profiles?: string[] };
    expect({ command: commandArgs(seed).join(' '), profiles: seed.profiles }).toEqual({
      command: 'node dist/scripts/seed.js',
      profiles: ['demo'],
    });
    // Nothing outside the demo profile seeds money or mints a key.
    for (const [name, s] of appServices().filter(([n]) => n !== 'seed'))
      expect({ name, seeds: /seed/.test(commandArgs(s).join(' ')) }).toEqual({ name, seeds: false });
    for (const role of ROLES) {
      const [, s] = roleService(role);
      expect({ role, migrate: dependsOn(s).migrate }).toEqual({
        role,
        migrate: 'service_completed_successfully',
      });
    }
  });

  it('registers the search attributes OrderId, CustomerId and OrderStatus on temporal', () => {
    const args = commandArgs(service('temporal-init'));
    const registered: Record<string, string> = {};
    args.forEach((arg, i) => {
      const value = arg === '--search-attribute' ? args[i + 1] : arg.startsWith('--search-attribute=') ? arg.slice(19) : undefined;
      if (value === undefined) return;
      const [key, type] = value.split('=');
      registered[key!] = type!;
    });
    expect(registered).toEqual(expect.objectContaining({ OrderId: 'Keyword', CustomerId: 'Keyword', OrderStatus: 'Keyword' }));
    // …and whatever services/orders/contract.ts declares.
    expect(registered).toEqual(expect.objectContaining(SEARCH_ATTRIBUTES));
    expect(dependsOn(service('temporal-init')).temporal).toBe('service_healthy');
    for (const role of ROLES)
      expect({ role, ...pick(dependsOn(roleService(role)[1]), 'temporal-init') }).toEqual({
        role,
        'temporal-init': 'service_completed_successfully',
      });
  });

  it('runs Prometheus on PROMETHEUS_PORT with observability/prometheus.yml and its alert rules', () => {
    const prometheus = service('prometheus');
    const args = commandArgs(prometheus);
    expect(args).toContain('--config.file=/etc/prometheus/prometheus.yml');
    const listen = args.find((a) => a.startsWith('--web.listen-address='))!;
    expect(targetOf('prometheus', stackDefaults.prometheus.port)).toBe(Number(listen.split(':').pop()));
    const volumes = (prometheus as Service & { volumes?: string[] }).volumes ?? [];
    expect(volumes).toContain('./observability:/etc/prometheus:ro');
    for (const file of ['prometheus.yml', 'alerts.yml']) expect(fs.existsSync(path.join(repoRoot, 'observability', file))).toBe(true);
  });

  it("sends every app service's traces to the jaeger service over OTLP/HTTP", () => {
    expect(targetOf('jaeger', JAEGER.ui)).toBe(JAEGER.ui);
    for (const [name, s] of appServices()) {
      const endpoint = loadConfig(environmentOf(s)).otel.endpoint;
      expect({ name, endpoint }).toEqual({ name, endpoint: `http://jaeger:${targetOf('jaeger', JAEGER.otlpHttp)}` });
    }
  });

  it('disables topic auto-creation on kafka', () => {
    const broker = kafkaProperties();
    expect(broker['auto.create.topics.enable']).toBe('false');
    expect(broker['process.roles']).toBe('broker,controller');
  });

  it('creates the event and dead-letter topics with the configured partitions', () => {
    const init = service('kafka-init');
    const script = commandArgs(init).join(' ');
    expect(script).toContain('kafka-topics.sh');
    expect(script).toContain(defaults.kafka.eventsTopic);
    expect(script).toContain(defaults.kafka.dlqTopic);
    expect(script).toContain(`--partitions ${defaults.kafka.eventsPartitions}`);
    expect(dependsOn(init).kafka).toBe('service_healthy');
  });
});

/** The Kafka principal each app role runs as; the others reach no broker and hold no Kafka credentials. */
const KAFKA_ROLE_PRINCIPALS: Partial<Record<(typeof ROLES)[number], keyof typeof KAFKA_PRINCIPALS>> = {
  api: 'api',
  relay: 'relay',
  'consumer-audit': 'consumer-audit',
  'consumer-notifications': 'consumer-notifications',
};

/** The database URL variables, each of which an app service may only get as a file. */
const DATABASE_URLS = ['DATABASE_URL', 'DATABASE_OWNER_URL', 'DATABASE_READER_URL', 'RECONCILER_DATABASE_URL'] as const;

/** Compose files at the repository root: the default one and any override. */
const composeFiles = () => fs.readdirSync(repoRoot).filter((f) => /^(docker-)?compose(\.[\w-]+)?\.ya?ml$/.test(f));

/** Volume mounts of a service as [source, target, read-only]. */
function mountsOf(s: Service): { source: string; target: string; readOnly: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = '', mode] = String(v).split(':');
    return { source, target, readOnly: mode === 'ro' };
  });
}

/** pg_hba.conf lines as [type, database, user, address?, method]. */
function hbaLines(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => l.split(/\s+/));
}

describe('docker-compose.yml security defaults', () => {
  it('has no trust authentication in any compose file, PostgreSQL setting or pg_hba line', () => {
    for (const file of composeFiles()) {
      for (const [name, s] of Object.entries(loadCompose(file).services)) {
        const trusting = Object.entries(rawEnvironmentOf(s)).filter(([, v]) => /(^|[\s=])trust(\s|$)/.test(v));
        expect({ file, name, trusting }).toEqual({ file, name, trusting: [] });
      }
    }
    const env = rawEnvironmentOf(service('postgres'));
    expect(env.POSTGRES_HOST_AUTH_METHOD).toBeUndefined();
    expect(env.POSTGRES_PASSWORD).toBeUndefined();
    expect(env.POSTGRES_PASSWORD_FILE).toEqual(expect.any(String));
    // initdb's own pg_hba.conf (unused: hba_file below) and the socket: scram too.
    expect(env.POSTGRES_INITDB_ARGS?.split(/\s+/)).toEqual(
      expect.arrayContaining(['--auth-local=scram-sha-256', '--auth-host=scram-sha-256']),
    );
    const args = commandArgs(service('postgres'));
    const settings = Object.fromEntries(args.filter((_, i) => args[i - 1] === '-c').map((a) => a.split('=') as [string, string]));
    expect(settings).toEqual(expect.objectContaining({ ssl: 'on', password_encryption: 'scram-sha-256' }));
    expect(settings.ssl_cert_file).toEqual(expect.any(String));
    expect(settings.ssl_key_file).toEqual(expect.any(String));
    const hba = hbaLines(fs.readFileSync(hostPath(settings.hba_file!), 'utf8'));
    expect(hba.length).toBeGreaterThan(0);
    for (const line of hba) {
      const [type, , , ...rest] = line;
      const method = rest[rest.length - 1];
      // `host` would match plaintext connections too: only hostssl accepts, hostnossl refuses.
      const allowed = { local: 'scram-sha-256', hostssl: 'scram-sha-256', hostnossl: 'reject' } as Record<string, string>;
      expect({ line: line.join(' '), method }).toEqual({ line: line.join(' '), method: allowed[type!] });
    }
  });

  it('gives every app service its database logins as files, over TLS verified by name (sslmode=verify-full)', () => {
    const passwords = new Map<string, string>();
    for (const [name, s] of appServices()) {
      const raw = rawEnvironmentOf(s);
      expect({ name, direct: DATABASE_URLS.filter((v) => raw[v] !== undefined) }).toEqual({ name, direct: [] });
      expect({ name, file: raw.DATABASE_URL_FILE?.startsWith(`${SECRETS_MOUNT}/`) }).toEqual({ name, file: true });
      const cfg = loadConfig(environmentOf(s));
      const logins = [cfg.database, cfg.databaseOwner, cfg.databaseReader, cfg.reconciler.database].filter(
        (_, i) => raw[fileVariable(DATABASE_URLS[i]!)],
      );
      for (const login of logins) {
        expect({ name, user: login.user, ssl: login.ssl?.mode }).toEqual({ name, user: login.user, ssl: 'verify-full' });
        expect(fs.existsSync(login.ssl!.rootCert!)).toBe(true);
        expect(login.host).toBe('postgres');
        expect(login.password.length).toBeGreaterThanOrEqual(24);
        passwords.set(login.user, login.password);
      }
    }
    // Each login its own password.
    expect(new Set(passwords.values()).size).toBe(passwords.size);
    expect([...passwords.keys()].sort()).toEqual(['order_saga', 'order_saga_owner', 'order_saga_reconciler', 'order_saga_reporting']);
    expect(rawEnvironmentOf(roleService('reconciler')[1]).RECONCILER_DATABASE_URL_FILE).toEqual(expect.any(String));
    const migrate = environmentOf(service('migrate'));
    // The superuser password migrate provisions with is the one postgres was initialised with.
    const superuser = fs.readFileSync(path.join(secretsDir(), 'secrets', 'pg-postgres.password'), 'utf8').trim();
    expect(loadStackConfig(migrate).stack.postgresSuperuserPassword).toBe(superuser);
  });

  it('sets no secret or certificate of an app service as a value: each comes from a file of the secrets volume', () => {
    const secrets = APP_VARIABLES.names.filter((n) => APP_VARIABLES.declaration(n)?.fromFile);
    for (const [name, s] of appServices()) {
      const raw = rawEnvironmentOf(s);
      expect({ name, values: secrets.filter((v) => raw[v] !== undefined) }).toEqual({ name, values: [] });
      for (const v of secrets.map(fileVariable).filter((f) => raw[f] !== undefined)) {
        expect({ name, v, path: raw[v]!.startsWith(`${SECRETS_MOUNT}/`) }).toEqual({ name, v, path: true });
        expect(fs.existsSync(hostPath(raw[v]!))).toBe(true);
      }
      expect(mountsOf(s)).toEqual(expect.arrayContaining([{ source: 'secrets', target: SECRETS_MOUNT, readOnly: true }]));
    }
  });

  it('runs Kafka with no plaintext listener: clients on SASL_SSL (SCRAM-SHA-512), the controller on mTLS, ACLs only', () => {
    const p = kafkaProperties();
    const protocols = Object.fromEntries(p['listener.security.protocol.map']!.split(',').map((e) => e.split(':') as [string, string]));
    const listeners = p.listeners!.split(',').map((l) => l.split('://')[0]!);
    const controller = p['controller.listener.names'];
    for (const listener of listeners) {
      expect({ listener, protocol: protocols[listener] }).toEqual({ listener, protocol: listener === controller ? 'SSL' : 'SASL_SSL' });
    }
    expect(Object.values(protocols)).not.toContain('PLAINTEXT');
    expect(Object.values(protocols)).not.toContain('SASL_PLAINTEXT');
    expect(p['sasl.enabled.mechanisms']).toBe('SCRAM-SHA-512');
    expect(p[`listener.name.${controller!.toLowerCase()}.ssl.client.auth`]).toBe('required');
    expect(p['ssl.endpoint.identification.algorithm']).toBe('https');
    expect(p['authorizer.class.name']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(p['allow.everyone.if.no.acl.found']).toBe('false');
    expect(p['super.users']!.split(';').sort()).toEqual(['User:CN=order-saga-server', `User:${KAFKA_PRINCIPALS.admin}`].sort());
    // Every SASL_SSL listener has its SCRAM login module.
    for (const listener of listeners.filter((l) => l !== controller)) {
      expect(p[`listener.name.${listener.toLowerCase()}.scram-sha-512.sasl.jaas.config`]).toMatch(/ScramLoginModule required/);
    }
    // The broker is configured from the rendered file only, not from KAFKA_* variables.
    expect(Object.keys(rawEnvironmentOf(service('kafka'))).filter((k) => /LISTENER|SECURITY/.test(k))).toEqual([]);
  });

  it.each(ROLES)('%s reaches Kafka only as its own principal over TLS, or holds no Kafka credentials', (role) => {
    const [name, s] = roleService(role);
    const cfg = loadConfig(environmentOf(s));
    const principal = KAFKA_ROLE_PRINCIPALS[role];
    if (!principal) {
      expect({ name, sasl: cfg.kafka.sasl, vars: Object.keys(rawEnvironmentOf(s)).filter((k) => k.startsWith('KAFKA_SASL')) }).toEqual({
        name,
        sasl: undefined,
        vars: [],
      });
      return;
    }
    expect(cfg.kafka.ssl?.ca).toMatch(/BEGIN CERTIFICATE/);
    expect(cfg.kafka.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: KAFKA_PRINCIPALS[principal],
      password: fs.readFileSync(path.join(secretsDir(), 'secrets', `kafka-${KAFKA_PRINCIPALS[principal]}.password`), 'utf8').trim(),
    });
  });

  it("creates the secure stack's ACLs (the relay produces, each consumer reads in its own group) and a SCRAM user per principal", () => {
    const names = { [AclResourceTypes.TOPIC]: 'topic', [AclResourceTypes.GROUP]: 'group' } as Record<number, string>;
    const ops = {
      [AclOperationTypes.READ]: 'Read',
      [AclOperationTypes.WRITE]: 'Write',
      [AclOperationTypes.DESCRIBE]: 'Describe',
    } as Record<number, string>;
    const expected = appAcls(loadStackConfig({})).map(
      (a) => `${a.principal.replace(/^User:/, '')} ${names[a.resourceType]} ${a.resourceName} ${ops[a.operation]}`,
    );
    const declared = hbaLines(composeFile('kafka/acls.txt')).map((l) => l.join(' '));
    expect(declared.sort()).toEqual(expected.sort());
    expect(commandArgs(service('kafka-init')).join(' ')).toContain('/etc/order-saga/kafka/acls.txt');
    expect(mountsOf(service('kafka-init'))).toEqual(
      expect.arrayContaining([{ source: './compose', target: '/etc/order-saga', readOnly: true }]),
    );
    const scram = fs.readFileSync(path.join(secretsDir(), 'kafka', 'scram-args'), 'utf8');
    for (const principal of Object.values(KAFKA_PRINCIPALS)) expect(scram).toContain(`SCRAM-SHA-512=[name=${principal},password=`);
  });

  it('runs the full Temporal server with mTLS on its frontend and between its services, TLS to PostgreSQL', () => {
    const temporal = service('temporal');
    expect(imageParts(temporal.image!).name).toBe('temporalio/server');
    expect(commandArgs(temporal).join(' ')).not.toMatch(/start-dev/);
    const config = parse(composeFile('temporal/config.yaml').replaceAll('@SECRETS_MOUNT@', SECRETS_MOUNT)) as {
      global: { tls: Record<string, { server?: { requireClientAuth?: boolean; clientCaFiles?: string[] } }> };
      persistence: { datastores: Record<string, { sql: { tls?: { enabled?: boolean; enableHostVerification?: boolean } } }> };
    };
    for (const group of ['frontend', 'internode']) {
      expect({ group, ...config.global.tls[group]!.server }).toEqual(
        expect.objectContaining({ group, requireClientAuth: true, clientCaFiles: [`${SECRETS_MOUNT}/ca/ca.pem`] }),
      );
    }
    for (const [store, { sql }] of Object.entries(config.persistence.datastores)) {
      expect({ store, tls: sql.tls }).toEqual({ store, tls: expect.objectContaining({ enabled: true, enableHostVerification: true }) });
    }
  });

  it('gives every app service a client certificate for Temporal and the CA that signed the frontend', () => {
    for (const [name, s] of appServices().filter(([n]) => n !== 'migrate' && n !== 'seed')) {
      const tls = loadConfig(environmentOf(s)).temporal.tls;
      expect({ name, ca: tls?.ca, cert: tls?.clientCert?.cert, key: tls?.clientCert?.key }).toEqual({
        name,
        ca: expect.stringMatching(/BEGIN CERTIFICATE/),
        cert: expect.stringMatching(/BEGIN CERTIFICATE/),
        key: expect.stringMatching(/PRIVATE KEY/),
      });
    }
  });

  it("gives the compose Temporal server the native stack's dynamic config", () => {
    expect(parse(composeFile('temporal/dynamicconfig.yaml'))).toEqual(dynamicConfig());
  });

  it("runs the Web UI with its own client certificate, verifying the frontend's name, with write actions off", () => {
    const env = rawEnvironmentOf(service('temporal-ui'));
    expect(env).toEqual(
      expect.objectContaining({
        TEMPORAL_DISABLE_WRITE_ACTIONS: 'true',
        TEMPORAL_TLS_ENABLE_HOST_VERIFICATION: 'true',
        TEMPORAL_TLS_CA: `${SECRETS_MOUNT}/ca/ca.pem`,
        TEMPORAL_TLS_CERT: `${SECRETS_MOUNT}/certs/temporal-ui.pem`,
        TEMPORAL_TLS_KEY: `${SECRETS_MOUNT}/certs/temporal-ui.key`,
      }),
    );
  });

  it('serves the API over HTTPS with the server certificate', () => {
    expect(loadConfig(environmentOf(roleService('api')[1])).api.tls?.cert).toMatch(/BEGIN CERTIFICATE/);
  });

  it('makes a CA and certificates for every server name with secrets-init, a password per login, and changes nothing on a rerun', () => {
    const dir = secretsDir();
    const ca = path.join(dir, 'ca', 'ca.pem');
    // The CA's key stays in its own volume, which only secrets-init mounts.
    expect(fs.existsSync(path.join(dir, 'ca', 'ca.key'))).toBe(false);
    for (const [name, s] of Object.entries(compose.services)) {
      const mounts = mountsOf(s).map((m) => m.source);
      expect({ name, ca: mounts.includes('secrets-ca') }).toEqual({ name, ca: name === 'secrets-init' });
    }
    const server = new X509Certificate(fs.readFileSync(path.join(dir, 'certs', 'server.pem')));
    for (const san of ['DNS:postgres', 'DNS:kafka', 'DNS:temporal', 'DNS:api', 'DNS:localhost', 'IP Address:127.0.0.1']) {
      expect(server.subjectAltName?.split(', ')).toContain(san);
    }
    for (const cert of ['server', 'temporal-app', 'temporal-cli', 'temporal-ui']) {
      const x = new X509Certificate(fs.readFileSync(path.join(dir, 'certs', `${cert}.pem`)));
      expect({ cert, signed: x.verify(new X509Certificate(fs.readFileSync(ca)).publicKey) }).toEqual({ cert, signed: true });
    }
    // Rendered configs carry their passwords; no placeholder is left.
    for (const rendered of ['kafka/server.properties', 'kafka/admin.properties', 'temporal/compose.yaml']) {
      expect({ rendered, placeholder: /@[A-Z_]+@/.test(fs.readFileSync(path.join(dir, rendered), 'utf8')) }).toEqual({
        rendered,
        placeholder: false,
      });
    }
    const snapshot = () =>
      Object.fromEntries(
        ['ca/ca.pem', 'certs/server.pem', 'secrets/pg-postgres.password', 'secrets/database-url'].map((f) => [
          f,
          fs.readFileSync(path.join(dir, f), 'utf8'),
        ]),
      );
    const before = snapshot();
    execFileSync('sh', [path.join(repoRoot, 'compose', 'secrets-init.sh'), 'init'], {
      env: {
        ...process.env,
        SECRETS_DIR: dir,
        SECRETS_MOUNT: dir,
        CA_DIR: path.join(dir, '..', 'ca'),
        TEMPLATES_DIR: path.join(repoRoot, 'compose'),
        SECRETS_OWNER: '',
      },
      stdio: 'pipe',
    });
    expect(snapshot()).toEqual(before);
  });

  it('mounts the secrets volume read-only everywhere but in secrets-init, and starts nothing that needs it before secrets-init', () => {
    const init = service('secrets-init');
    expect(mountsOf(init)).toEqual(expect.arrayContaining([{ source: 'secrets', target: SECRETS_MOUNT, readOnly: false }]));
    const waitsForInit = (name: string, seen = new Set<string>()): boolean => {
      if (seen.has(name)) return false;
      seen.add(name);
      const deps = dependsOn(service(name));
      if (deps['secrets-init'] === 'service_completed_successfully') return true;
      return Object.keys(deps).some((d) => waitsForInit(d, seen));
    };
    for (const [name, s] of Object.entries(compose.services).filter(([n]) => n !== 'secrets-init')) {
      const mount = mountsOf(s).find((m) => m.source === 'secrets');
      if (!mount) continue;
      expect({ name, mount: mount.readOnly, waits: waitsForInit(name) }).toEqual({ name, mount: true, waits: true });
    }
  });
});

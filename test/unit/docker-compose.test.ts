/**
 * docker-compose.yml can't be run here (no Docker engine), so these tests keep it honest
 * statically: pinned images, the same host ports and environment variable names as the
 * declarations in lib/config.ts (app) and scripts/stack/config.ts (local stack), one service
 * per app role, and the Temporal/Kafka settings the app needs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { APP_VARIABLES, loadConfig, repoRoot } from '../../lib/config';
import { loadStackConfig, STACK_VARIABLES } from '../../scripts/stack/config';
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
  command?: string | string[];
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

function loadCompose(): Compose {
  const text = fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8');
  // merge: the app services share their definition through `<<: *app`.
  const doc: unknown = parse(text, { merge: true });
  if (typeof doc !== 'object' || doc === null || !('services' in doc)) {
    throw new Error('docker-compose.yml has no services');
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

/** A service's environment as the container would see it (unset shell variables resolved). */
function environmentOf(s: Service): Record<string, string> {
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
    expect(targetOf('temporal', stackDefaults.temporal.uiPort)).toBeDefined();
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

    const temporalArgs = commandArgs(service('temporal'));
    const uiPortArg = temporalArgs[temporalArgs.indexOf('--ui-port') + 1];
    expect(targetOf('temporal', stackDefaults.temporal.uiPort)).toBe(Number(uiPortArg));

    // The host listener must advertise the address a host client dials.
    const kafkaEnv = environmentOf(service('kafka'));
    const hostBroker = defaults.kafka.brokers[0]!;
    expect(kafkaEnv.KAFKA_ADVERTISED_LISTENERS).toContain(`://${hostBroker}`);
    const hostListener = (kafkaEnv.KAFKA_ADVERTISED_LISTENERS ?? '')
      .split(',')
      .find((l) => l.endsWith(`://${hostBroker}`))!
      .split('://')[0]!;
    const hostTarget = targetOf('kafka', Number(hostBroker.split(':').pop()));
    expect(kafkaEnv.KAFKA_LISTENERS).toContain(`${hostListener}://0.0.0.0:${hostTarget}`);
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
    const known = new Set<string>(APP_VARIABLES.names);
    const apps = appServices();
    expect(apps.length).toBeGreaterThanOrEqual(ROLES.length);
    for (const [name, s] of apps) {
      const unknown = Object.keys(environmentOf(s)).filter((v) => !known.has(v));
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
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
    const args = commandArgs(service('temporal'));
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
    expect(args.slice(0, 2)).toEqual(['server', 'start-dev']);
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
    const env = environmentOf(service('kafka'));
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
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

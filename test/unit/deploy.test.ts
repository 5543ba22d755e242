/**
 * deploy/ can't be applied here (no cluster), so these tests keep the Kubernetes manifests
 * honest statically, like the compose test: every app process has a Deployment with at
 * least two replicas and a PodDisruptionBudget, every environment variable named is one
 * lib/config.ts declares, probes hit routes and ports the processes really serve, and the
 * kustomizations list files that exist. And the security defaults: every secret is a file
 * of a mounted Secret (`*_FILE`), each pod mounting only its role's keys; PostgreSQL over
 * `sslmode=verify-full`, Temporal with a client certificate, Kafka over TLS with SCRAM as
 * the role's own principal. Each container's environment is loaded for real, with its
 * mounts written to a temporary directory (placeholders for what the operators provide).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROLES, type Role } from '../../app/processes';
import { systemOperations } from '../../api/routes/system';
import { APP_VARIABLES, loadConfig, repoRoot } from '../../lib/config';
import { fileVariable } from '../../lib/env-vars';
import { KAFKA_PRINCIPALS } from '../../scripts/stack/secure';
import { compiledCommand } from '../support/build';

interface Probe {
  httpGet?: { path: string; port: number | string; scheme?: string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: Record<string, string> };
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[]; defaultMode?: number };
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
}
interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    minReplicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    scaleTargetRef?: { kind: string; name: string };
    minAvailable?: number;
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  };
}

const DEPLOY = path.join(repoRoot, 'deploy');
const BASE = path.join(DEPLOY, 'base');

function loadDir(dir: string): Resource[] {
  const kustomization = parseAllDocuments(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as {
    resources: string[];
  };
  return kustomization.resources
    .filter((r) => r.endsWith('.yaml'))
    .flatMap((file) => parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8')).map((d) => d.toJS() as Resource));
}

const resources = loadDir(BASE);
const of = (kind: string) => resources.filter((r) => r.kind === kind);
const configMap = of('ConfigMap').find((r) => r.metadata.name === 'order-saga-config')!;
const secret = of('Secret').find((r) => r.metadata.name === 'order-saga-secrets')!;

/** Variables that hold a secret or a certificate: in the manifests only as `<NAME>_FILE`. */
const SECRET_VARIABLES: readonly string[] = APP_VARIABLES.names.filter((n) => APP_VARIABLES.declaration(n)?.fromFile);

let pemFixture: { cert: string; key: string } | undefined;

/** A throwaway certificate and key standing for the ones cert-manager and the operators provide. */
function pem(): { cert: string; key: string } {
  if (pemFixture) return pemFixture;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-pem-'));
  scratch.push(dir);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`, '-days', '1', '-subj', '/CN=test'],
    {
      stdio: 'pipe',
    },
  );
  pemFixture = { cert: fs.readFileSync(`${dir}/c.pem`, 'utf8'), key: fs.readFileSync(`${dir}/k.pem`, 'utf8') };
  return pemFixture;
}

/** What a key of a Secret holds here: the base's placeholder for ours, a test PEM for the operators'. */
function secretContent(secretName: string, key: string): string {
  if (secretName === secret.metadata.name) {
    const value = secret.stringData?.[key];
    if (value === undefined) throw new Error(`${secretName} has no key ${key}`);
    return value;
  }
  if (key.endsWith('.key')) return pem().key;
  if (key.endsWith('.crt')) return pem().cert;
  return 'placeholder-password';
}

/**
 * One container's environment as the process sees it: the ConfigMap and its own env, with
 * each mounted Secret written to a temporary directory and every mount path (in values and
 * in the files, e.g. a URL's sslrootcert) pointing there.
 */
/** Temporary directories of this file, removed after its tests. */
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

function environmentOf(pod: PodSpec, container: Container): Record<string, string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-mounts-'));
  scratch.push(root);
  const mounts = (container.volumeMounts ?? []).map((m) => ({ ...m, local: path.join(root, m.name) }));
  const relocate = (text: string) => mounts.reduce((t, m) => t.replaceAll(m.mountPath, m.local), text);
  for (const m of mounts) {
    const volume = pod.volumes?.find((v) => v.name === m.name);
    if (!volume?.secret) throw new Error(`${container.name} mounts ${m.name}, which is not a Secret volume`);
    fs.mkdirSync(m.local, { recursive: true });
    const { secretName, items } = volume.secret;
    const keys = items ?? Object.keys(secret.stringData ?? {}).map((key) => ({ key, path: key }));
    for (const { key, path: file } of keys) fs.writeFileSync(path.join(m.local, file), relocate(secretContent(secretName, key)));
  }
  const env: Record<string, string> = { ...configMap.data };
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, relocate(v)]));
}

/** Every container of the base, with the pod spec it runs in. */
function containers(): { resource: string; pod: PodSpec; container: Container }[] {
  return [...of('Deployment'), ...of('Job')].flatMap((r) =>
    r.spec!.template!.spec.containers.map((container) => ({ resource: r.metadata.name, pod: r.spec!.template!.spec, container })),
  );
}

function podOf(role: Role): { pod: PodSpec; container: Container } {
  const pod = deploymentOf(role).spec!.template!.spec;
  return { pod, container: pod.containers[0]! };
}

const settingsOf = (role: Role) => {
  const { pod, container } = podOf(role);
  return loadConfig(environmentOf(pod, container));
};

function deploymentOf(role: Role): Resource {
  const matches = of('Deployment').filter((d) =>
    d.spec!.template!.spec.containers.some((c) => c.command?.join(' ') === `node dist/app/main.js ${role}`),
  );
  if (matches.length !== 1) throw new Error(`expected one Deployment running node dist/app/main.js ${role}, found ${matches.length}`);
  return matches[0]!;
}

const roles = Object.keys(ROLES) as Role[];
const settings = settingsOf('api');

test('the API believes one proxy hop (the ingress) about client addresses, not the client-chosen X-Forwarded-For entries', () => {
  expect(settings.api.trustProxy).toBe(1);
});

test('every kustomization lists files that exist, and the overlay builds on the base', () => {
  for (const dir of [BASE, path.join(DEPLOY, 'overlays', 'production')]) {
    const k = parseAllDocuments(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    for (const r of k.resources) expect(fs.existsSync(path.join(dir, r))).toBe(true);
  }
  const overlay = parseAllDocuments(
    fs.readFileSync(path.join(DEPLOY, 'overlays', 'production', 'kustomization.yaml'), 'utf8'),
  )[0]!.toJS() as {
    resources: string[];
    replicas: { name: string; count: number }[];
  };
  expect(overlay.resources).toContain('../../base');
  const deployments = new Set(of('Deployment').map((d) => d.metadata.name));
  for (const r of overlay.replicas) {
    expect(deployments.has(r.name)).toBe(true);
    expect(r.count).toBeGreaterThanOrEqual(2);
  }
});

test.each(roles)('%s has a Deployment with at least 2 replicas, resource requests and a PodDisruptionBudget', (role) => {
  const d = deploymentOf(role);
  expect(d.spec!.replicas).toBeGreaterThanOrEqual(2);
  const container = d.spec!.template!.spec.containers[0]!;
  expect(container.resources?.requests?.cpu).toBeDefined();
  expect(container.resources?.requests?.memory).toBeDefined();
  const labels = d.spec!.template!.metadata!.labels!;
  expect(d.spec!.selector!.matchLabels).toEqual(labels);
  const pdbs = of('PodDisruptionBudget').filter((p) => Object.entries(p.spec!.selector!.matchLabels!).every(([k, v]) => labels[k] === v));
  expect(pdbs).toHaveLength(1);
  expect(pdbs[0]!.spec!.minAvailable).toBeLessThan(d.spec!.replicas!);
});

test.each(roles)("%s's probes hit a route and port the process serves", (role) => {
  const container = deploymentOf(role).spec!.template!.spec.containers[0]!;
  const metricsPort = settings.metrics.portBase + ROLES[role].metricsOffset;
  const apiRoutes = systemOperations(() => []).map((o) => o.path);
  const served = [`${metricsPort}/metrics`, ...(role === 'api' ? apiRoutes.map((p) => `${settings.api.port}${p}`) : [])];
  for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
    expect(probe?.httpGet).toBeDefined();
    expect(served).toContain(`${probe!.httpGet!.port}${probe!.httpGet!.path}`);
  }
  if (role === 'api') expect(container.readinessProbe!.httpGet!.path).toBe('/readyz');
  expect(container.ports!.map((p) => p.containerPort)).toContain(metricsPort);
});

test('every environment variable the manifests set is declared in lib/config.ts, and the set parses', () => {
  const named = [
    ...Object.keys(configMap.data ?? {}),
    ...resources.flatMap((r) => r.spec?.template?.spec.containers.flatMap((c) => (c.env ?? []).map((e) => e.name)) ?? []),
  ];
  // A secret's variable names a file (lib/env-vars.ts); migrate alone provisions as the superuser.
  const known = [...APP_VARIABLES.names, ...SECRET_VARIABLES.map(fileVariable), fileVariable('POSTGRES_SUPERUSER_PASSWORD')];
  for (const name of named) expect(known).toContain(name);
  // Listening on every interface: the kubelet probes the pod's address, not loopback.
  expect(settings.api.host).toBe('0.0.0.0');
  expect(settings.metrics.host).toBe('0.0.0.0');
  for (const r of resources.filter((x) => x.spec?.template)) {
    for (const c of r.spec!.template!.spec.containers) {
      // Secrets are mounted as files, never put into the environment wholesale.
      const from = (c.envFrom ?? []).map((e) => e.configMapRef?.name ?? e.secretRef?.name);
      expect(from).toEqual(['order-saga-config']);
    }
  }
});

test('the API has a Service and an HPA that keeps two replicas; a migrate Job runs the migrations', () => {
  expect(of('Service').map((s) => s.metadata.name)).toContain('order-saga-api');
  const hpa = of('HorizontalPodAutoscaler').find((h) => h.spec!.scaleTargetRef!.name === deploymentOf('api').metadata.name);
  expect(hpa?.spec!.minReplicas).toBeGreaterThanOrEqual(2);
  const job = of('Job').find((j) => j.metadata.name === 'order-saga-migrate');
  expect(job?.spec!.template!.spec.containers[0]!.command).toEqual(['node', 'dist/scripts/migrate.js']);
});

test('every container runs compiled JavaScript the build emits, with node and no TypeScript loader', () => {
  const containers = [...of('Deployment'), ...of('Job')].flatMap((r) =>
    r.spec!.template!.spec.containers.map((c) => ({ resource: r.metadata.name, command: c.command ?? [] })),
  );
  expect(containers.length).toBeGreaterThan(roles.length);
  for (const { resource, command } of containers) {
    expect({ resource, problem: compiledCommand(command).problem }).toEqual({ resource, problem: undefined });
  }
});

/** The keys of order-saga-secrets each pod mounts: its role's, nothing else. */
const ROLE_SECRET_KEYS: Record<Role | 'migrate', string[]> = {
  api: ['database-url', 'admin-api-key', `kafka-${KAFKA_PRINCIPALS.api}.password`],
  'worker-orders': ['database-url'],
  'worker-payments': ['database-url'],
  'worker-inventory': ['database-url'],
  relay: ['database-url', `kafka-${KAFKA_PRINCIPALS.relay}.password`],
  'consumer-audit': ['database-url', `kafka-${KAFKA_PRINCIPALS['consumer-audit']}.password`],
  'consumer-notifications': ['database-url', `kafka-${KAFKA_PRINCIPALS['consumer-notifications']}.password`],
  reconciler: ['database-url', 'reconciler-database-url'],
  migrate: ['database-url', 'database-owner-url', 'database-reader-url', 'reconciler-database-url'],
};

/** The Kafka principal of each role that reaches the brokers (scripts/stack/secure.ts). */
const KAFKA_ROLE_PRINCIPALS: Partial<Record<Role, keyof typeof KAFKA_PRINCIPALS>> = {
  api: 'api',
  relay: 'relay',
  'consumer-audit': 'consumer-audit',
  'consumer-notifications': 'consumer-notifications',
};

const migrateJob = () => {
  const pod = of('Job').find((j) => j.metadata.name === 'order-saga-migrate')!.spec!.template!.spec;
  return { pod, container: pod.containers[0]! };
};

/** Every file under deploy/, as text. */
function deployFiles(dir = DEPLOY): [string, string][] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e): [string, string][] => {
    const file = path.join(dir, e.name);
    return e.isDirectory() ? deployFiles(file) : [[path.relative(repoRoot, file), fs.readFileSync(file, 'utf8')]];
  });
}

describe('deploy/ security defaults', () => {
  test('sets no secret or certificate as a value: the ConfigMap and the containers name files of mounted Secrets', () => {
    expect(SECRET_VARIABLES.filter((v) => configMap.data?.[v] !== undefined)).toEqual([]);
    for (const { resource, container } of containers()) {
      const direct = (container.env ?? []).filter((e) => SECRET_VARIABLES.includes(e.name)).map((e) => e.name);
      expect({ resource, direct }).toEqual({ resource, direct: [] });
      const env = { ...configMap.data, ...Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? ''])) };
      for (const [name, file] of Object.entries(env).filter(([k]) => k.endsWith('_FILE'))) {
        const mount = (container.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
        expect({ resource, name, mounted: mount !== undefined, readOnly: mount?.readOnly }).toEqual({
          resource,
          name,
          mounted: true,
          readOnly: true,
        });
      }
    }
  });

  test.each([...roles, 'migrate' as const])("%s's pod mounts only its role's keys of order-saga-secrets", (role) => {
    const { pod } = role === 'migrate' ? migrateJob() : podOf(role);
    const volume = pod.volumes?.find((v) => v.secret?.secretName === secret.metadata.name);
    expect(volume?.secret?.items?.map((i) => i.key).sort()).toEqual([...ROLE_SECRET_KEYS[role]].sort());
    expect(volume?.secret?.defaultMode).toBe(0o440);
    expect((pod as PodSpec & { securityContext?: { fsGroup?: number } }).securityContext?.fsGroup).toBe(1000);
  });

  test('reaches PostgreSQL over TLS verified by name (sslmode=verify-full) from every container', () => {
    for (const { resource, pod, container } of containers()) {
      const cfg = loadConfig(environmentOf(pod, container));
      const logins = [
        cfg.database,
        ...(resource === 'order-saga-migrate' ? [cfg.databaseOwner, cfg.databaseReader] : []),
        ...(resource.endsWith('reconciler') || resource === 'order-saga-migrate' ? [cfg.reconciler.database] : []),
      ];
      for (const login of logins) {
        expect({ resource, user: login.user, ssl: login.ssl?.mode, ca: fs.existsSync(login.ssl?.rootCert ?? '/nonexistent') }).toEqual({
          resource,
          user: login.user,
          ssl: 'verify-full',
          ca: true,
        });
      }
    }
    // migrate provisions the roles as the superuser (CloudNativePG's superuser secret).
    const { container } = migrateJob();
    expect(container.env?.find((e) => e.name === fileVariable('POSTGRES_SUPERUSER_PASSWORD'))?.value).toEqual(expect.any(String));
  });

  test.each(roles)('%s presents a client certificate to Temporal (mTLS)', (role) => {
    const tls = settingsOf(role).temporal.tls;
    expect(tls?.ca).toMatch(/BEGIN CERTIFICATE/);
    expect(tls?.clientCert?.cert).toMatch(/BEGIN CERTIFICATE/);
    expect(tls?.clientCert?.key).toMatch(/PRIVATE KEY/);
  });

  test.each(roles)('%s reaches Kafka over TLS with SCRAM as its own principal, or holds no Kafka credentials', (role) => {
    const cfg = settingsOf(role);
    const principal = KAFKA_ROLE_PRINCIPALS[role];
    const { container } = podOf(role);
    if (!principal) {
      expect({
        role,
        sasl: cfg.kafka.sasl,
        vars: (container.env ?? []).filter((e) => e.name.startsWith('KAFKA_SASL')).map((e) => e.name),
      }).toEqual({
        role,
        sasl: undefined,
        vars: [],
      });
      return;
    }
    expect(cfg.kafka.ssl?.ca).toMatch(/BEGIN CERTIFICATE/);
    expect(cfg.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: KAFKA_PRINCIPALS[principal], password: expect.any(String) });
    const file = container.env?.find((e) => e.name === fileVariable('KAFKA_SASL_PASSWORD'))?.value;
    expect(path.basename(file ?? '')).toBe(`kafka-${KAFKA_PRINCIPALS[principal]}.password`);
  });

  test('serves the API over HTTPS, probed over HTTPS', () => {
    expect(settings.api.tls?.cert).toMatch(/BEGIN CERTIFICATE/);
    const { container } = podOf('api');
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe])
      expect(probe?.httpGet?.scheme).toBe('HTTPS');
  });

  test('has no trust auth, no sslmode below verify-full and no plaintext Kafka anywhere under deploy/', () => {
    for (const [file, text] of deployFiles()) {
      const found = [
        /\btrust\b(?! proxy)/i.exec(text.replace(/API_TRUST_PROXY/g, ''))?.[0],
        /sslmode=(disable|allow|prefer|require|verify-ca)\b/.exec(text)?.[0],
        /\bPLAINTEXT\b/.exec(text)?.[0],
      ].filter(Boolean);
      expect({ file, found }).toEqual({ file, found: [] });
    }
  });

  test("the production overlay's Secret has exactly the base's keys, from files outside git, and an example of each", () => {
    const dir = path.join(DEPLOY, 'overlays', 'production');
    const overlay = parseAllDocuments(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as {
      secretGenerator: { name: string; behavior?: string; files?: string[]; envs?: string[] }[];
    };
    const generator = overlay.secretGenerator.find((g) => g.name === secret.metadata.name)!;
    expect(generator.envs).toBeUndefined();
    const keys = (generator.files ?? []).map((f) => (f.includes('=') ? f.slice(0, f.indexOf('=')) : path.basename(f)));
    expect(keys.sort()).toEqual(Object.keys(secret.stringData ?? {}).sort());
    const ignored = fs.readFileSync(path.join(repoRoot, '.gitignore'), 'utf8');
    expect(ignored).toContain('deploy/overlays/production/secrets/');
    for (const key of keys) {
      const example = fs.readFileSync(path.join(dir, 'secrets.example', key), 'utf8');
      if (key.endsWith('-url'))
        expect({ key, tls: new URL(example.trim()).searchParams.get('sslmode') }).toEqual({ key, tls: 'verify-full' });
    }
  });
});

/**
 * deploy/ can't be applied here (no cluster), so these tests keep the Kubernetes manifests
 * honest statically, like the compose test: every app process has a Deployment with at
 * least two replicas and a PodDisruptionBudget, every environment variable named is one
 * lib/config.ts declares, probes hit routes and ports the processes really serve, and the
 * kustomizations list files that exist.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROLES, type Role } from '../../app/processes';
import { systemOperations } from '../../api/routes/system';
import { APP_VARIABLES, loadConfig, repoRoot } from '../../lib/config';
import { compiledCommand } from '../support/build';

interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
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
const settings = loadConfig({ ...configMap.data, ...secret.stringData, ADMIN_API_KEY: 'x'.repeat(32) });

function deploymentOf(role: Role): Resource {
  const matches = of('Deployment').filter((d) =>
    d.spec!.template!.spec.containers.some((c) => c.command?.join(' ') === `node dist/app/main.js ${role}`),
  );
  if (matches.length !== 1) throw new Error(`expected one Deployment running node dist/app/main.js ${role}, found ${matches.length}`);
  return matches[0]!;
}

const roles = Object.keys(ROLES) as Role[];

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
    ...Object.keys(secret.stringData ?? {}),
    ...resources.flatMap((r) => r.spec?.template?.spec.containers.flatMap((c) => (c.env ?? []).map((e) => e.name)) ?? []),
  ];
  const overlayEnv = fs
    .readFileSync(path.join(DEPLOY, 'overlays', 'production', 'secrets.env.example'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => l.slice(0, l.indexOf('=')));
  for (const name of [...named, ...overlayEnv]) expect(APP_VARIABLES.names).toContain(name);
  // Listening on every interface: the kubelet probes the pod's address, not loopback.
  expect(settings.api.host).toBe('0.0.0.0');
  expect(settings.metrics.host).toBe('0.0.0.0');
  for (const r of resources.filter((x) => x.spec?.template)) {
    for (const c of r.spec!.template!.spec.containers) {
      const from = (c.envFrom ?? []).map((e) => e.configMapRef?.name ?? e.secretRef?.name);
      expect(from).toEqual(['order-saga-config', 'order-saga-secrets']);
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

/**
 * The stack's authorization server (optional: `npm run stack -- up --with-identity`; the
 * tests' global setup starts it): panva's oidc-provider run by scripts/stack/identity-server.ts
 * as its own process, seeded with scripts/stack/identity-seed.ts. Its signing keys persist in
 * <dir>/jwks.json; POST <issuer>/dev/rotate-keys rotates them without a restart. No install
 * step: it is an npm devDependency, versioned by package-lock.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { repoRoot } from '../../lib/config';
import type { StackConfig } from './config';
import { componentDir, type Component, type Health } from './component';
import { consoleClientFor, IDENTITY_SEED, type IdentitySeed } from './identity-seed';
import type { IdentityServerConfig } from './identity-server';
import { log, ownedPid, spawnDaemon, stopPid } from './proc';

const SERVER_SCRIPT = path.join(repoRoot, 'scripts', 'stack', 'identity-server.ts');
const TSX_CLI = path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');

/** The running provider's version, from its own package. */
function providerVersion(): string {
  const pkg = path.join(repoRoot, 'node_modules', 'oidc-provider', 'package.json');
  return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/** A JSON Web Key Set: a provider's published one, or its private key file. */
export interface Jwks {
  keys?: JWK[];
}

/** The RFC 7638 thumbprints of a set's keys, in order (a private key and its public half share one). */
async function thumbprints(jwks: Jwks): Promise<string[]> {
  return Promise.all((jwks.keys ?? []).map((k) => calculateJwkThumbprint(k)));
}

/**
 * Why the key set a provider publishes is not the one in `keysFile` (its private keys, `own`;
 * undefined when there is no file), or undefined when it is: the same keys in the same order
 * (the first one signs). Every checkout's provider answers as `http://127.0.0.1:<port>`, so
 * the issuer alone cannot tell this stack's provider from another's.
 */
export async function keysMismatch(published: Jwks, own: Jwks | undefined, keysFile: string): Promise<string | undefined> {
  const served = await thumbprints(published);
  if (!own) return `it publishes the keys ${served.join(', ') || '(none)'}, and this stack has no key file ${keysFile}`;
  const expected = await thumbprints(own);
  if (expected.length > 0 && served.length === expected.length && served.every((t, i) => t === expected[i])) return undefined;
  return `it publishes the keys ${served.join(', ') || '(none)'}, not ${expected.join(', ') || '(none)'} from ${keysFile}`;
}

export class IdentityProvider implements Component {
  readonly name = 'identity';
  readonly logFile: string;
  readonly keysFile: string;
  private readonly pidFile: string;
  private readonly configFile: string;

  /** `dir` and `port` default to the stack's; a test may run a second one of its own elsewhere. */
  constructor(
    private readonly cfg: StackConfig,
    private readonly opts: { dir?: string; port?: number; seed?: IdentitySeed } = {},
  ) {
    const dir = opts.dir ?? componentDir(cfg, 'identity');
    this.port = opts.port ?? cfg.stack.identity.port;
    this.logFile = path.join(dir, 'identity.log');
    this.pidFile = path.join(dir, 'identity.pid');
    this.configFile = path.join(dir, 'identity.json');
    this.keysFile = path.join(dir, 'jwks.json');
  }

  readonly port: number;

  get issuer(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The seed given, or the default one with the console client also registered for the API at its configured port. */
  get seed(): IdentitySeed {
    if (this.opts.seed) return this.opts.seed;
    const apiPort = this.cfg.api.port;
    const atPort = consoleClientFor(`http://127.0.0.1:${apiPort}`, `http://localhost:${apiPort}`);
    const [main, ...others] = IDENTITY_SEED.consoleClients;
    if (!main) return IDENTITY_SEED;
    const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];
    const merged = {
      ...main,
      redirectUris: union(main.redirectUris, atPort.redirectUris),
      postLogoutRedirectUris: union(main.postLogoutRedirectUris, atPort.postLogoutRedirectUris),
    };
    return { ...IDENTITY_SEED, consoleClients: [merged, ...others] };
  }

  async install(): Promise<void> {}

  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.configFile), { recursive: true });
    const config: IdentityServerConfig = {
      issuer: this.issuer,
      host: '127.0.0.1',
      port: this.port,
      keysFile: this.keysFile,
      seed: this.seed,
    };
    fs.writeFileSync(this.configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    spawnDaemon(process.execPath, [TSX_CLI, SERVER_SCRIPT, this.configFile], {
      logFile: this.logFile,
      pidFile: this.pidFile,
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: 'development' },
    });
  }

  async health(): Promise<Health> {
    const mismatch = await this.keysMismatch();
    if (mismatch) throw new Error(`the provider on ${this.issuer} is not this stack's: ${mismatch}`);
    return { version: `oidc-provider ${providerVersion()}`, endpoint: this.issuer, extra: `audience ${this.seed.audience}` };
  }

  /**
   * Whether the provider answering on the port serves this stack's keys (see keysMismatch).
   * Throws when none answers as this issuer.
   */
  async keysMismatch(): Promise<string | undefined> {
    const res = await fetch(`${this.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`discovery answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
    if (doc.issuer !== this.issuer) throw new Error(`discovery names issuer ${doc.issuer}, not ${this.issuer}`);
    if (!doc.jwks_uri) throw new Error('discovery names no jwks_uri');
    const jwks = await fetch(doc.jwks_uri, { signal: AbortSignal.timeout(2000) });
    if (!jwks.ok) throw new Error(`${doc.jwks_uri} answered ${jwks.status}`);
    return keysMismatch((await jwks.json()) as Jwks, this.ownKeys(), this.keysFile);
  }

  /** The private keys this stack's provider signs with (its key file), if there is one. */
  private ownKeys(): Jwks | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.keysFile, 'utf8')) as Jwks;
    } catch {
      return undefined;
    }
  }

  /**
   * A provider on the port that serves other keys: this stack's own process (its key file was
   * replaced) is stopped, to be started again; another stack's (another checkout on the same
   * IDENTITY_PORT) is an error, since every token the tests sign with this stack's key would be
   * refused.
   */
  async reclaim(): Promise<void> {
    const mismatch = await this.keysMismatch().catch(() => undefined); // none answers: start() binds the port
    if (!mismatch) return;
    if (this.pid()) {
      log(`restarting identity: ${mismatch}`);
      await this.stop();
      return;
    }
    throw new Error(
      `port ${this.port} is held by another stack's authorization server (${mismatch}); ` +
        'stop that stack (`npm run stack -- down` with its STACK_DIR) or give this one a free IDENTITY_PORT',
    );
  }

  /** Clients, users and scopes are seeded at start (the configuration file). */
  async provision(): Promise<void> {}

  async stop(): Promise<void> {
    await stopPid(this.pid());
  }

  pid(): number | undefined {
    return ownedPid(this.pidFile, this.configFile);
  }

  /** A new signing key; `retain` previous keys stay published (0: tokens signed before are refused). */
  async rotateKeys(retain = 1): Promise<{ kid: string; published: string[] }> {
    const res = await fetch(`${this.issuer}/dev/rotate-keys?retain=${retain}`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`rotate-keys answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as { kid: string; published: string[] };
  }

  /** A client-credentials access token for a seeded client. */
  async clientToken(clientId: string, scopes: readonly string[]): Promise<string> {
    const client = this.seed.clients.find((c) => c.clientId === clientId);
    if (!client) throw new Error(`no seeded client ${clientId}`);
    const res = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' '), resource: this.seed.audience }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!res.ok || !body.access_token) throw new Error(`token endpoint: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
    return body.access_token;
  }
}

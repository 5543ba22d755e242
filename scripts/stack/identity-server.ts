/**
 * The stack's authorization server: panva's oidc-provider (OpenID Certified) with the clients,
 * users and scopes of scripts/stack/identity-seed.ts. Run by scripts/stack/identity.ts as its
 * own process: `tsx scripts/stack/identity-server.ts <config.json>`. It issues RFC 9068 JWT
 * access tokens (client credentials) for the API's audience.
 *
 * Signing keys live in a private JWKS file in the component's directory (kept across
 * restarts, newest key first: oidc-provider signs with the first key of an algorithm). A
 * development-only endpoint rotates them without a restart:
 *   POST /dev/rotate-keys?retain=N   a new signing key; N previous keys stay published (default 1)
 * It answers only on the loopback address the server binds, and the server is for development.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { IdentitySeed } from './identity-seed';

/** What scripts/stack/identity.ts writes for this process. */
export interface IdentityServerConfig {
  issuer: string;
  host: string;
  port: number;
  keysFile: string;
  seed: IdentitySeed;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

function readKeys(file: string): JWK[] {
  try {
    const keys = (JSON.parse(fs.readFileSync(file, 'utf8')) as { keys?: JWK[] }).keys;
    return Array.isArray(keys) && keys.length > 0 ? keys : [];
  } catch {
    return [];
  }
}

function writeKeys(file: string, keys: JWK[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function providerConfiguration(cfg: IdentityServerConfig, keys: JWK[]): Record<string, unknown> {
  const { seed } = cfg;
  const users = new Map(seed.users.map((u) => [u.subject, u]));
  return {
    clients: seed.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: c.scopes.join(' '),
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys },
    scopes: ['openid', ...seed.scopes],
    claims: { openid: ['sub'], roles: ['roles'], profile: ['name'] },
    findAccount: (_ctx: unknown, id: string) => {
      const user = users.get(id);
      if (!user) return undefined;
      return { accountId: id, claims: () => ({ sub: id, name: user.name, roles: user.roles }) };
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => seed.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== seed.audience) throw new Error(`unknown resource ${resource}`);
          return {
            scope: seed.scopes.join(' '),
            audience: seed.audience,
            accessTokenTTL: seed.accessTokenTtlS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Cookies are signed with a key of this process only: sessions do not outlive a restart.
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  };
}

async function main(configFile: string): Promise<void> {
  const cfg = JSON.parse(fs.readFileSync(configFile, 'utf8')) as IdentityServerConfig;
  // An ES module only: loaded by import() (typed in scripts/stack/oidc-provider.d.ts).
  const { default: Provider } = await import('oidc-provider');
  let keys = readKeys(cfg.keysFile);
  if (keys.length === 0) {
    keys = [await newSigningKey()];
    writeKeys(cfg.keysFile, keys);
  }
  const build = () => new Provider(cfg.issuer, providerConfiguration(cfg, keys)).callback();
  let handler = build();

  async function rotate(url: URL, res: http.ServerResponse): Promise<void> {
    const retain = Number(url.searchParams.get('retain') ?? '1');
    if (!Number.isInteger(retain) || retain < 0 || retain > 5) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'retain must be 0..5' }));
      return;
    }
    const fresh = await newSigningKey();
    keys = [fresh, ...keys.slice(0, retain)];
    writeKeys(cfg.keysFile, keys);
    handler = build();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kid: fresh.kid, published: keys.map((k) => k.kid) }));
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', cfg.issuer);
    if (url.pathname === '/dev/rotate-keys' && req.method === 'POST') {
      rotate(url, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    handler(req, res);
  });
  server.listen(cfg.port, cfg.host, () => process.stdout.write(`identity provider ${cfg.issuer} listening on ${cfg.host}:${cfg.port}\n`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv[2] ?? '').catch((err: unknown) => {
  process.stderr.write(`identity provider failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

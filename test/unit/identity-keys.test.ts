/**
 * The stack's authorization server counts as up only if it publishes the keys in this stack's
 * own key file. Every checkout's provider answers as http://127.0.0.1:4460: when another
 * checkout's held the port, `stack up` took it for this one and the identity tests' tokens,
 * signed with this stack's key, were refused with 401. A provider stand-in on a free port (a
 * plain HTTP server publishing a key set) plays the other checkout's.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { loadStackConfig } from '../../scripts/stack/config';
import { IdentityProvider, keysMismatch, type Jwks } from '../../scripts/stack/identity';

async function privateKey(): Promise<JWK> {
  const { privateKey: key } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(key)), alg: 'RS256', use: 'sig' };
}

/** What a provider publishes for these private keys: the public halves only. */
const published = (keys: JWK[]): Jwks => ({ keys: keys.map(({ kty, n, e, alg, use }) => ({ kty, n, e, alg, use })) });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-keys-'));
const keysFile = path.join(dir, 'jwks.json');
let ours: JWK;
let theirs: JWK;
let servedKeys: Jwks;
let server: http.Server;
let idp: IdentityProvider;

beforeAll(async () => {
  [ours, theirs] = await Promise.all([privateKey(), privateKey()]);
  server = http.createServer((req, res) => {
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const body = req.url === '/jwks' ? servedKeys : { issuer, jwks_uri: `${issuer}/jwks` };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  idp = new IdentityProvider(loadStackConfig(), { dir, port: (server.address() as AddressInfo).port });
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => fs.writeFileSync(keysFile, JSON.stringify({ keys: [ours] })));

describe('keysMismatch', () => {
  test('the public halves of the key file, in its order, match', async () => {
    const second = await privateKey();
    expect(await keysMismatch(published([ours, second]), { keys: [ours, second] }, keysFile)).toBeUndefined();
  });

  test('another key, another order, a missing key or no key file do not, and the reason names the file', async () => {
    const second = await privateKey();
    await expect(keysMismatch(published([theirs]), { keys: [ours] }, keysFile)).resolves.toContain(keysFile);
    await expect(keysMismatch(published([second, ours]), { keys: [ours, second] }, keysFile)).resolves.toMatch(/publishes the keys/);
    await expect(keysMismatch(published([ours]), { keys: [ours, second] }, keysFile)).resolves.toMatch(/publishes the keys/);
    await expect(keysMismatch(published([]), { keys: [] }, keysFile)).resolves.toMatch(/\(none\)/);
    await expect(keysMismatch(published([ours]), undefined, keysFile)).resolves.toMatch(/no key file/);
  });
});

describe('a provider on the port', () => {
  test("publishing this stack's key is healthy, and nothing is reclaimed", async () => {
    servedKeys = published([ours]);
    await expect(idp.health()).resolves.toMatchObject({ endpoint: idp.issuer });
    await expect(idp.reclaim()).resolves.toBeUndefined();
  });

  test("publishing another checkout's key is not healthy, and stack up fails at once saying whose port it is", async () => {
    servedKeys = published([theirs]);
    await expect(idp.health()).rejects.toThrow(/is not this stack's: it publishes the keys/);
    await expect(idp.reclaim()).rejects.toThrow(/port \d+ is held by another stack's authorization server.*IDENTITY_PORT/);
  });

  test('with no key file of this stack, another provider is not taken for its own', async () => {
    servedKeys = published([ours]);
    fs.rmSync(keysFile);
    await expect(idp.health()).rejects.toThrow(/no key file/);
  });
});

/**
 * The secure stack's pieces that need no server: the CA and certificates openssl makes
 * (scripts/stack/pki.ts) and the Kafka ACLs per principal (scripts/stack/kafka.ts).
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AclOperationTypes, AclResourceTypes, ResourcePatternTypes } from 'kafkajs';
import { appAcls } from '../../scripts/stack/kafka';
import { loadStackConfig } from '../../scripts/stack/config';
import { ensurePki, rotateCerts } from '../../scripts/stack/pki';
import { KAFKA_PRINCIPALS } from '../../scripts/stack/secure';

describe('the local CA (scripts/stack/pki.ts)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pki-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const read = (file: string) => new X509Certificate(fs.readFileSync(file));

  test('issues a server certificate for 127.0.0.1 and localhost and client certificates, all signed by the CA', async () => {
    const pki = await ensurePki(dir, ['pg-app.password']);
    const ca = read(pki.caCert);
    expect(ca.ca).toBe(true);
    const server = read(pki.cert('server').cert);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    const app = read(pki.cert('temporal-app').cert);
    expect(app.verify(ca.publicKey)).toBe(true);
    expect(app.subject).toBe('CN=order-saga-app');
    expect(app.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(app.checkIP('127.0.0.1')).toBeUndefined();
    // Kafka's PEM key store reads PKCS#8 only; keys and secrets are the owner's alone.
    expect(fs.readFileSync(pki.cert('server').key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    for (const f of [pki.caKey, pki.cert('server').key, pki.secretFile('pg-app.password')]) {
      expect(fs.statSync(f).mode & 0o077).toBe(0);
    }
  });

  test("a stack directory the PKI creates stays traversable by others (the postgres user's data lives in it); the PKI's own is the owner's", async () => {
    const stackDir = path.join(dir, 'new-stack');
    const pki = await ensurePki(stackDir, []);
    expect(fs.statSync(stackDir).mode & 0o011).toBe(0o011);
    expect(fs.statSync(pki.dir).mode & 0o077).toBe(0);
  });

  test('a second start keeps every certificate and secret; rotation re-issues the leaves from the same CA', async () => {
    const before = await ensurePki(dir, ['pg-app.password']);
    const password = before.secret('pg-app.password');
    const fingerprint = read(before.cert('server').cert).fingerprint256;
    const again = await ensurePki(dir, ['pg-app.password']);
    expect(again.secret('pg-app.password')).toBe(password);
    expect(read(again.cert('server').cert).fingerprint256).toBe(fingerprint);

    const caBefore = read(before.caCert).fingerprint256;
    const rotated = await rotateCerts(dir, false);
    expect(read(rotated.cert('server').cert).fingerprint256).not.toBe(fingerprint);
    expect(read(rotated.caCert).fingerprint256).toBe(caBefore);
    expect(read(rotated.cert('server').cert).verify(read(rotated.caCert).publicKey)).toBe(true);
    expect(rotated.secret('pg-app.password')).toBe(password);
  });
});

describe('the Kafka ACLs of the secure stack', () => {
  const cfg = loadStackConfig({});
  const acls = appAcls(cfg);
  const allowed = (principal: string, type: AclResourceTypes, op: AclOperationTypes) =>
    acls.filter((a) => a.principal === `User:${principal}` && a.resourceType === type && a.operation === op).map((a) => a.resourceName);

  test('the relay writes the event topic and reads nothing', () => {
    expect(allowed(KAFKA_PRINCIPALS.relay, AclResourceTypes.TOPIC, AclOperationTypes.WRITE)).toEqual([cfg.kafka.eventsTopic]);
    expect(acls.filter((a) => a.principal === `User:${KAFKA_PRINCIPALS.relay}` && a.operation === AclOperationTypes.READ)).toEqual([]);
  });

  test.each(['audit', 'notifications'] as const)('the %s consumer reads the event topic in its own group only', (name) => {
    const principal = KAFKA_PRINCIPALS[`consumer-${name}`];
    expect(allowed(principal, AclResourceTypes.TOPIC, AclOperationTypes.READ)).toEqual([cfg.kafka.eventsTopic]);
    expect(allowed(principal, AclResourceTypes.GROUP, AclOperationTypes.READ)).toEqual([`${cfg.consumers.groupPrefix}${name}`]);
    expect(allowed(principal, AclResourceTypes.TOPIC, AclOperationTypes.WRITE)).toEqual([cfg.kafka.dlqTopic]);
  });

  test('nobody but the admin (a super user) reads dead letters, and every ACL is literal', () => {
    expect(acls.filter((a) => a.resourceName === cfg.kafka.dlqTopic && a.operation === AclOperationTypes.READ)).toEqual([]);
    expect(new Set(acls.map((a) => a.resourcePatternType))).toEqual(new Set([ResourcePatternTypes.LITERAL]));
    expect(acls.some((a) => a.principal === `User:${KAFKA_PRINCIPALS.admin}`)).toBe(false);
  });
});

/**
 * A KRaft cluster id is random base64url and may begin with '-'. Given to StorageTool as an
 * argument of its own (`-t -VHG...`), Kafka's parser took it for an option and the broker never
 * formatted its storage (seen once in `npm run test:secure`). The real StorageTool of the
 * stack's Kafka, with the arguments the stack gives it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storageFormatArgs } from '../../scripts/stack/kafka';
import { VERSIONS } from '../../scripts/stack/component';
import { testConfig } from '../setup/test-config';

test("a cluster id that begins with '-' formats the storage", () => {
  const libs = path.join(testConfig().stack.cacheDir, `kafka-${VERSIONS.kafka}`, 'libs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-format-'));
  try {
    const props = path.join(dir, 'server.properties');
    fs.writeFileSync(
      props,
      [
        'process.roles=broker,controller',
        'node.id=1',
        'controller.quorum.voters=1@127.0.0.1:1',
        'listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:1',
        'controller.listener.names=CONTROLLER',
        `log.dirs=${path.join(dir, 'data')}`,
        '',
      ].join('\n'),
    );
    const clusterId = '-VHGp-T1pZqRSrE5Yb0AAQ';
    const r = spawnSync('java', ['-cp', `${libs}/*`, 'kafka.tools.StorageTool', ...storageFormatArgs(clusterId, props)], {
      encoding: 'utf8',
    });
    expect({ status: r.status, stderr: r.stderr.slice(0, 300) }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(fs.readFileSync(path.join(dir, 'data', 'meta.properties'), 'utf8')).toContain(`cluster.id=${clusterId}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

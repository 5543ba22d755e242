/**
 * Proves each component of the local stack is the real thing, reached over the network
 * with the project's own configuration. The full Temporal server on PostgreSQL is proven
 * only when the stack runs it (TEMPORAL_PERSISTENCE=postgres); CI runs the dev server.
 */
import crypto from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Kafka, logLevel } from 'kafkajs';
import { closeDb, createDb } from '../../lib/db';
import { SEARCH_ATTRIBUTES } from '../../services/orders/contract';
import { SA } from '../../services/orders/search-attributes';
import { ensureTopics } from '../../scripts/stack/kafka';
import { namespaceRetentionDays } from '../../scripts/stack/temporal';
import { testConfig } from '../setup/test-config';
import * as smokeActivities from '../fixtures/smoke-activities';
import { eventually } from '../support/wait';

const cfg = testConfig();

describe('the local stack', () => {
  test('PostgreSQL answers select version() through the app database client', async () => {
    const db = createDb(cfg.database.url, 1);
    try {
      const rows = await db.$queryRaw<{ version: string; db: string }[]>`select version() as version, current_database() as db`;
      expect(rows[0]!.version).toMatch(/^PostgreSQL \d+/);
      expect(rows[0]!.db).toBe(cfg.database.database);
    } finally {
      await closeDb(db);
    }
  });

  test('a real worker runs a trivial workflow to completion on the Temporal server', async () => {
    const taskQueue = `smoke-${crypto.randomUUID()}`;
    const nativeConnection = await NativeConnection.connect({ address: cfg.temporal.address });
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: cfg.temporal.namespace,
      taskQueue,
      workflowsPath: require.resolve('../fixtures/smoke-workflows'),
      activities: smokeActivities,
    });
    const connection = await Connection.connect({ address: cfg.temporal.address });
    const client = new Client({ connection, namespace: cfg.temporal.namespace });
    try {
      const result = await worker.runUntil(
        client.workflow.execute('smokeWorkflow', {
          taskQueue,
          workflowId: `smoke-${crypto.randomUUID()}`,
          args: ['temporal'],
        }),
      );
      expect(result).toBe('hello, temporal!');
      const attrs = await connection.operatorService.listSearchAttributes({ namespace: cfg.temporal.namespace });
      for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(attrs.customAttributes).toHaveProperty(name);
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
  });

  test('Kafka round-trips keyed messages through every partition of a 3-partition topic', async () => {
    const topic = `smoke-${crypto.randomUUID()}`;
    await ensureTopics(cfg.kafka.brokers, [{ topic, numPartitions: 3 }]);
    const kafka = new Kafka({ clientId: 'smoke-test', brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: `smoke-${crypto.randomUUID()}` });
    await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]!.partitions).toHaveLength(3);

      const sent = Array.from({ length: 30 }, (_, i) => ({ key: `order-${i}`, value: `payload-${i}` }));
      await producer.send({ topic, acks: -1, messages: sent });

      const received: { key: string; value: string; partition: number }[] = [];
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message, partition }) => {
          received.push({ key: message.key!.toString(), value: message.value!.toString(), partition });
        },
      });
      await eventually(async () => received.length >= sent.length, { what: 'all messages consumed' });

      expect(received.map(({ key, value }) => ({ key, value })).sort((a, b) => a.key.localeCompare(b.key))).toEqual(
        [...sent].sort((a, b) => a.key.localeCompare(b.key)),
      );
      expect(new Set(received.map((r) => r.partition))).toEqual(new Set([0, 1, 2]));
      // Same key, same partition: what per-order ordering rests on.
      const byKey = new Map<string, Set<number>>();
      for (const r of received) byKey.set(r.key, (byKey.get(r.key) ?? new Set()).add(r.partition));
      for (const partitions of byKey.values()) expect(partitions.size).toBe(1);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

const postgresMode = cfg.stack.temporal.persistence === 'postgres';

(postgresMode ? describe : describe.skip)('Temporal on PostgreSQL (runs only with TEMPORAL_PERSISTENCE=postgres)', () => {
  test('the full server stores history and visibility in PostgreSQL, keeps the configured retention, and lists a finished workflow by OrderStatus through the server and its Web UI', async () => {
    const { namespace, address, host } = cfg.temporal;
    const taskQueue = `smoke-pg-${crypto.randomUUID()}`;
    const status = `SMOKE-${crypto.randomUUID()}`;
    const nativeConnection = await NativeConnection.connect({ address });
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue,
      workflowsPath: require.resolve('../fixtures/smoke-workflows'),
      activities: smokeActivities,
    });
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace });
    try {
      const info = await connection.workflowService.getClusterInfo({});
      expect({ persistence: info.persistenceStore, visibility: info.visibilityStore, version: info.serverVersion }).toEqual({
        persistence: 'postgres12',
        visibility: 'postgres12',
        version: '1.29.1',
      });
      expect(await namespaceRetentionDays(connection, namespace)).toBe(cfg.stack.temporal.namespaceRetentionDays);

      const workflowId = `smoke-pg-${crypto.randomUUID()}`;
      await worker.runUntil(
        client.workflow.execute('smokeWorkflow', {
          taskQueue,
          workflowId,
          args: ['postgres'],
          typedSearchAttributes: new TypedSearchAttributes([{ key: SA.OrderStatus, value: status }]),
        }),
      );
      const query = `OrderStatus="${status}"`;
      const found = await eventually(
        async () => {
          const ids: string[] = [];
          for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
          return ids.length > 0 && ids;
        },
        { what: `${query} to list the workflow` },
      );
      expect(found).toEqual([workflowId]);

      const ui = `http://${host}:${cfg.stack.temporal.uiPort}`;
      const listed = await fetch(`${ui}/api/v1/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`);
      expect(listed.status).toBe(200);
      const body = (await listed.json()) as { executions?: { execution: { workflowId: string } }[] };
      expect(body.executions?.map((e) => e.execution.workflowId)).toEqual([workflowId]);
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
  });
});

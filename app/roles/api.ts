/** The API role: express on API_HOST:API_PORT, graceful close on shutdown. */
import http from 'node:http';
import https from 'node:https';
import { Kafka, logLevel } from 'kafkajs';
import { createApp } from '../../api/app';
import { answerClientErrors } from '../../api/client-error';
import { createTemporalClient } from '../../lib/temporal';
import { syncBootstrapAdminKey } from '../../services/access/api-keys';
import { pruneExpiredIdempotencyKeys } from '../../services/access/idempotency';
import { kafkaConnection } from '../../services/platform/messaging/kafka';
import type { RoleContext, Running } from '../role';

const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

export async function startApi({ cfg, db, log, faults, registry, tracing }: RoleContext): Promise<Running> {
  // The bootstrap admin key is valid exactly while ADMIN_API_KEY is set (a revocation sticks).
  await syncBootstrapAdminKey(db, cfg.api.adminApiKey);
  const temporal = await createTemporalClient(cfg, { tracing: tracing.enabled });
  const kafka = new Kafka({
    clientId: `${cfg.kafka.clientId}-api`,
    ...kafkaConnection(cfg.kafka),
    logLevel: logLevel.NOTHING,
    retry: { retries: 1 },
  });
  const admin = kafka.admin();
  let adminConnected: Promise<void> | undefined;

  const app = createApp({
    cfg,
    db,
    log,
    temporal,
    faults,
    kafka,
    registry,
    readiness: {
      database: () => db.$queryRaw`SELECT 1`,
      temporal: () => temporal.workflowService.describeNamespace({ namespace: cfg.temporal.namespace }),
      kafka: async () => {
        adminConnected ??= admin.connect();
        try {
          await adminConnected;
          await admin.describeCluster();
        } catch (err) {
          adminConnected = undefined;
          throw err;
        }
      },
    },
  });
  // HTTPS when API_TLS_CERT/API_TLS_KEY are set; otherwise plain HTTP (TLS ends at a proxy in front).
  const tls = cfg.api.tls;
  const server: http.Server = await new Promise((resolve, reject) => {
    const s: http.Server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, app) : http.createServer(app);
    s.once('error', reject);
    s.listen(cfg.api.port, cfg.api.host, () => resolve(s));
  });
  server.keepAliveTimeout = 65_000;
  answerClientErrors(server);
  const prune = setInterval(() => {
    pruneExpiredIdempotencyKeys(db).catch((err: unknown) => log.error({ err }, 'pruning idempotency keys failed'));
  }, PRUNE_INTERVAL_MS);

  return {
    url: `${tls ? 'https' : 'http'}://${cfg.api.host}:${cfg.api.port}`,
    async stop() {
      clearInterval(prune);
      // Stop taking requests; in-flight ones finish; idle keep-alive sockets close.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await admin.disconnect().catch(() => undefined);
      await temporal.connection.close();
    },
  };
}

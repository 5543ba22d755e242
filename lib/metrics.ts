/** Prometheus metrics: one registry per process, served on its own /metrics port. */
import http from 'node:http';
import type { Pool } from 'pg';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Gauges of a pg pool, read from its counters at scrape time (no query). */
export function dbPoolMetrics(registry: Registry, pool: Pool, max: number): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('db_pool_connections_in_use', 'Database connections checked out of the pool.', () => pool.totalCount - pool.idleCount);
  gauge('db_pool_connections_idle', 'Open database connections idle in the pool.', () => pool.idleCount);
  gauge('db_pool_waiting_requests', 'Queries waiting for a pool connection.', () => pool.waitingCount);
  gauge('db_pool_connections_max', 'Pool size limit (DATABASE_POOL_SIZE).', () => max);
}

export async function serveMetrics(registry: Registry, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

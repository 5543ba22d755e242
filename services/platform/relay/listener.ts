/**
 * LISTEN outbox_events on a dedicated connection (a pg Client: Prisma's pool cannot hold a
 * LISTEN). Every notification wakes the relay at once; after a reconnect it wakes the relay
 * too, since notifications sent while the connection was down are lost. The relay also polls,
 * so a dead listener costs latency, never events.
 */
import { Client } from 'pg';
import type { Logger } from '../../../lib/logger';
import { backoffMs, sleep } from '../../../lib/retry';

export const OUTBOX_CHANNEL = 'outbox_events';

export class OutboxListener {
  private readonly abort = new AbortController();
  private client: Client | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly onWake: () => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.abort.signal.aborted;) {
      try {
        const ended = await this.listenOnce();
        failures = 0;
        await ended;
      } catch (err) {
        failures += 1;
        if (!this.abort.signal.aborted) this.log.warn({ err, failures }, 'outbox listener connection failed; reconnecting');
      }
      if (!this.abort.signal.aborted) await sleep(backoffMs(failures + 1, { baseMs: 100, maxMs: 5000 }), this.abort.signal);
    }
  }

  /** Connects and listens; resolves with a promise that settles when the connection ends. */
  private async listenOnce(): Promise<Promise<void>> {
    const client = new Client({ connectionString: this.url, application_name: 'order-saga-relay-listener', keepAlive: true });
    this.client = client;
    const ended = new Promise<void>((resolve, reject) => {
      client.on('error', reject);
      client.on('end', () => resolve());
      this.abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    ended.catch(() => undefined); // observed below; never an unhandled rejection
    client.on('notification', () => this.onWake());
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.onWake();
    return ended.finally(() => client.end().catch(() => undefined));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.client?.end().catch(() => undefined);
    await this.loop;
  }
}

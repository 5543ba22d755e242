/**
 * The loop of a long-running worker (the outbox relay, the reconciler): run a round; when it
 * found nothing to do, wait until woken (a NOTIFY) or its idle time passes; when it failed,
 * report and back off. It stops between rounds, never in the middle of one.
 */
import { sleep } from './retry';

export interface Rounds {
  /** One round; true if it did work (the next round then starts at once). */
  round(): Promise<boolean>;
  /** How long to wait after a round that found nothing to do, unless woken (ms). */
  idleMs(): number;
  /** Told of each failed round with the count of failures in a row, before the backoff. */
  failed(err: unknown, failures: number): Promise<void> | void;
  /** The wait after the n-th failed round in a row (ms). */
  backoffMs(failures: number): number;
}

export class RunLoop {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  constructor(private readonly rounds: Rounds) {}

  /** True once stop() was called. */
  get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the loop after the round in flight (a wait in progress ends at once). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake();
    await this.loop;
  }

  /** Ends the idle wait in progress, or the next one if a round is running: no wake-up is lost. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      this.woken = false;
      try {
        const worked = await this.rounds.round();
        failures = 0;
        if (!worked) await this.idle();
      } catch (err) {
        failures += 1;
        await this.rounds.failed(err, failures);
        await sleep(this.rounds.backoffMs(failures), this.abort.signal);
      }
    }
  }

  private async idle(): Promise<void> {
    if (this.woken || this.abort.signal.aborted) return;
    const ms = this.rounds.idleMs();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = undefined;
  }
}

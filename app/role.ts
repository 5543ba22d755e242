/** What every app role is given, and what it hands back. */
import type { Registry } from 'prom-client';
import type { Config } from '../lib/config';
import type { Db } from '../lib/db';
import type { Faults } from '../lib/faults';
import type { Logger } from '../lib/logger';
import type { Tracing } from '../lib/tracing';

export interface RoleContext {
  cfg: Config;
  log: Logger;
  registry: Registry;
  db: Db;
  faults: Faults;
  /** Tracing of this process (TRACING_OFF unless configured). */
  tracing: Tracing;
}

/** What a started role hands back: how to stop it gracefully. */
export interface Running {
  /** Where the role serves (printed by `npm start`), if anywhere. */
  url?: string;
  stop(): Promise<void>;
}

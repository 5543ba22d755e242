/** What the API's operations are given: the process's clients and settings. */
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Config } from '../lib/config';
import type { Db } from '../lib/db';
import type { Faults } from '../lib/faults';
import type { Logger } from '../lib/logger';
import type { Admission } from '../services/orders/admission';

export interface ApiDeps {
  cfg: Config;
  db: Db;
  log: Logger;
  temporal: Client;
  faults: Faults;
  /** For dead-letter replay. */
  kafka: Kafka;
  /** Named readiness checks (database, Temporal, Kafka); each resolves or throws. */
  readiness: Record<string, () => Promise<unknown>>;
  /** Where HTTP metrics go (the API role's registry); none in tests that do not look. */
  registry?: Registry;
  /** The bound on sagas in flight that POST /orders checks (one per process; createApp makes it unless given). */
  admission: Admission;
}

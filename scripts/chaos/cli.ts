/**
 * npm run chaos -- [--orders N] [--minutes M] [--seed S] [--servers kafka,postgres,temporal|none]
 *
 * Runs the whole system with two instances of every app process against the configured
 * local stack, SIGKILLs and restarts app instances and restarts the stack's servers on a
 * seeded schedule while a mixed workload runs, then checks every invariant from the
 * outside and prints the table (docs/chaos.md). Exits 1 on any violation.
 *
 * It restarts the servers of the stack it is pointed at (STACK_DIR, DATABASE_URL,
 * TEMPORAL_ADDRESS, KAFKA_BROKERS): point it at a stack of its own, not a shared one.
 */
import { exitOnConfigError } from '../../lib/config';
import { loadStackConfig } from '../stack/config';
import { formatStatus, up } from '../stack/stack';
import { runChaos } from './harness';
import { formatResult } from './report';
import { SERVER_KINDS, type ServerKind } from './servers';

const USAGE = 'usage: npm run chaos -- [--orders N] [--minutes M] [--seed S] [--servers kafka,postgres,temporal|none] [--kills K]';

interface Args {
  orders: number;
  minutes: number;
  seed: number;
  servers: ServerKind[];
  kills?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { orders: 200, minutes: 3, seed: Math.floor(Math.random() * 2 ** 31), servers: [...SERVER_KINDS] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const num = Number(value);
    if (value === undefined) throw new Error(USAGE);
    if (flag === '--orders' && Number.isInteger(num) && num > 0) args.orders = num;
    else if (flag === '--minutes' && num > 0) args.minutes = num;
    else if (flag === '--seed' && Number.isInteger(num)) args.seed = num >>> 0;
    else if (flag === '--kills' && Number.isInteger(num) && num >= 0) args.kills = num;
    else if (flag === '--servers') {
      const list = value === 'none' ? [] : value.split(',');
      if (!list.every((s): s is ServerKind => (SERVER_KINDS as readonly string[]).includes(s))) throw new Error(USAGE);
      args.servers = list;
    } else throw new Error(USAGE);
  }
  return args;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  let cfg;
  try {
    cfg = loadStackConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  console.error(formatStatus(await up(cfg)));
  const result = await runChaos({
    ...args,
    apiPort: cfg.api.port,
    metricsPortBase: cfg.metrics.portBase,
  });
  console.log(formatResult(result));
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);

/**
 * npm run stack -- up [--secure]|down|status|logs [component] [--lines N]|reset|rotate-certs [--ca]
 * npm run temporal -- ARGS   /   npm run tctl -- ARGS   (pinned CLIs against the local server)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { exitOnConfigError } from '../../lib/config';
import { loadStackConfig, type StackConfig } from './config';
import { describeCert, rotateCerts, CERTS, type CertName } from './pki';
import { enterSecureMode, isSecureStack, secureEnvFile } from './secure';
import { down, formatStatus, logs, serversUp, status, up } from './stack';
import { cliEnv, installGoTool, type GoTool } from './temporal';

const USAGE = `usage: npm run stack -- <command>
  up [--secure] [--with-prometheus] [--with-identity] [--with-tracing]
                         start PostgreSQL, Temporal (+ Web UI) and Kafka (and Prometheus, the oidc-provider
                         authorization server, the trace backends Zipkin + Jaeger), build tctl; idempotent
                         (TEMPORAL_PERSISTENCE=sqlite|postgres: the dev server, or the full server on PostgreSQL)
                         --secure: TLS and authentication everywhere (a local CA, scram, SASL_SSL + ACLs,
                         Temporal mTLS); the STACK_DIR stays secure; env in $STACK_DIR/secure/secure.env
  rotate-certs [--ca]    secure stack: re-issue every certificate (--ca: from a new CA), then restart the servers
  down                   stop them (either Temporal mode)
  status                 show each component and tool, its version and address, and the app processes of
                         \`npm start\` (exit 3 if any server, or a process npm start runs, is down)
  logs [name] [--lines N]  print the tail of the component logs (postgres, temporal, temporal-ui, kafka, prometheus,
                         identity, zipkin, jaeger) or of an app process's (api, relay, worker-orders, relay#1...)
  reset                  stop and delete all local data (STACK_DIR)
  exec temporal|tctl ARGS  run a pinned CLI against the configured server`;

async function exec(cfg: StackConfig, tool: string, args: string[]): Promise<number> {
  if (tool !== 'temporal' && tool !== 'tctl') throw new Error(`exec: unknown tool "${tool}" (temporal or tctl)`);
  let bin: string;
  try {
    bin = await installGoTool(cfg, tool as GoTool);
  } catch (err) {
    throw new Error(`cannot install ${tool}: ${(err as Error).message}`);
  }
  const child = spawn(bin, args, { stdio: 'inherit', env: cliEnv(cfg) });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

/** Re-issues the certificates, then restarts every server so each loads its new one (clients read theirs at start). */
async function rotate(cfg: StackConfig, withCa: boolean): Promise<number> {
  if (!cfg.stack.secure) {
    console.error('rotate-certs: not a secure stack (npm run stack -- up --secure first)');
    return 2;
  }
  const pki = await rotateCerts(cfg.stack.dir, withCa);
  for (const name of Object.keys(CERTS) as CertName[]) console.log(`${name.padEnd(13)} ${await describeCert(pki.cert(name).cert)}`);
  await down(cfg);
  console.log(formatStatus(await up(cfg)));
  console.log('certificates rotated; restart app processes so they read theirs');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let cfg: StackConfig;
  try {
    cfg = loadStackConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const [command, ...rest] = argv;
  // A secure stack directory stays secure: every command reads its credentials.
  if ((command === 'up' && rest.includes('--secure')) || cfg.stack.secure || isSecureStack(cfg.stack.dir)) {
    cfg = await enterSecureMode(cfg);
  }
  switch (command) {
    case 'up': {
      const started = Date.now();
      const rows = await up(cfg, {
        withPrometheus: rest.includes('--with-prometheus'),
        withIdentity: rest.includes('--with-identity'),
        withTracing: rest.includes('--with-tracing'),
      });
      console.log(formatStatus(rows));
      if (cfg.stack.secure) console.log(`secure stack: the app's environment is in ${secureEnvFile(cfg.stack.dir)}`);
      console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return 0;
    }
    case 'rotate-certs':
      return rotate(cfg, rest.includes('--ca'));
    case 'down':
      await down(cfg);
      console.log('stack down');
      return 0;
    case 'status': {
      const rows = await status(cfg);
      console.log(formatStatus(rows));
      return serversUp(rows) ? 0 : 3;
    }
    case 'logs': {
      const i = rest.indexOf('--lines');
      const lines = i >= 0 ? Number(rest[i + 1]) : 60;
      const name = rest.find((a, idx) => !a.startsWith('--') && (i < 0 || idx !== i + 1));
      console.log(logs(cfg, name, Number.isInteger(lines) && lines > 0 ? lines : 60));
      return 0;
    }
    case 'reset':
      await down(cfg);
      fs.rmSync(cfg.stack.dir, { recursive: true, force: true });
      console.log(`removed ${cfg.stack.dir}`);
      return 0;
    case 'exec':
      return exec(cfg, rest[0] ?? '', rest.slice(1));
    default:
      console.error(USAGE);
      return command ? 2 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);

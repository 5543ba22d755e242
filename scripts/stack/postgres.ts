/**
 * PostgreSQL from Debian's package, on its own data directory and port. The server refuses
 * to run as root, so as root every server command runs as the `postgres` user.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { RECONCILER_DB_ROLE, type Config } from '../../lib/config';
import { componentDir, type Component, type Health } from './component';
import { aptInstall, isAlive, isRoot, readPid, run } from './proc';

const SERVER_USER = 'postgres';

function findBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

/** Runs a server binary as the postgres user when we are root. */
function asServerUser(bin: string, args: string[]) {
  return isRoot() ? run('runuser', ['-u', SERVER_USER, '--', bin, ...args]) : run(bin, args);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export class Postgres implements Component {
  readonly name = 'postgres';
  private readonly dir: string;
  private readonly dataDir: string;
  readonly logFile: string;
  private binDir: string | undefined;

  constructor(private readonly cfg: Config) {
    this.dir = componentDir(cfg, 'postgres');
    this.dataDir = path.join(this.dir, 'data');
    this.logFile = path.join(this.dir, 'postgres.log');
  }

  async install(): Promise<void> {
    this.binDir = findBinDir();
    if (!this.binDir) {
      await aptInstall(['postgresql'], 'PostgreSQL server');
      this.binDir = findBinDir();
      if (!this.binDir) throw new Error('postgresql installed but no /usr/lib/postgresql/*/bin/pg_ctl found');
    }
  }

  private bin(name: string): string {
    if (!this.binDir) throw new Error('postgres: install() has not run');
    return path.join(this.binDir, name);
  }

  private async prepareDirs(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    if (!isRoot()) return;
    await run('chown', ['-R', `${SERVER_USER}:${SERVER_USER}`, this.dir]);
    const reach = await run('runuser', ['-u', SERVER_USER, '--', 'test', '-w', this.dir], { allowFailure: true });
    if (reach.code !== 0) {
      throw new Error(
        `the ${SERVER_USER} user cannot write ${this.dir} (a parent directory is not traversable); ` +
          'set STACK_DIR to a directory it can reach, e.g. STACK_DIR=/var/tmp/order-saga',
      );
    }
  }

  async start(): Promise<void> {
    await this.prepareDirs();
    if (!fs.existsSync(path.join(this.dataDir, 'PG_VERSION'))) {
      await asServerUser(this.bin('initdb'), [
        '-D', this.dataDir, '-U', SERVER_USER, '--auth=trust', '--encoding=UTF8', '--locale=C',
      ]);
      fs.appendFileSync(path.join(this.dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'order_saga.conf'\n");
    }
    // Rewritten on every start so a changed DATABASE_URL port takes effect.
    fs.writeFileSync(
      path.join(this.dataDir, 'order_saga.conf'),
      [
        `port = ${this.cfg.database.port}`,
        `listen_addresses = '${this.cfg.database.host === 'localhost' ? '127.0.0.1' : this.cfg.database.host}'`,
        "unix_socket_directories = ''",
        'max_connections = 300',
        'shared_buffers = 256MB',
        'work_mem = 8MB',
        // Group commit: concurrent commits share one WAL flush. Durability is unchanged.
        'commit_delay = 200',
        'commit_siblings = 4',
        'wal_level = replica',
        'max_wal_size = 2GB',
        'log_min_messages = warning',
        "log_line_prefix = '%m [%p] %u@%d '",
      ].join('\n') + '\n',
    );
    if (isRoot()) await run('chown', [`${SERVER_USER}:${SERVER_USER}`, path.join(this.dataDir, 'order_saga.conf')]);
    // pg_ctl daemonizes the server itself; -w waits until it accepts connections.
    await asServerUser(this.bin('pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '90', 'start']);
  }

  private superuser(database = 'postgres'): Client {
    return new Client({
      host: this.cfg.database.host,
      port: this.cfg.database.port,
      user: SERVER_USER,
      database,
      connectionTimeoutMillis: 2000,
    });
  }

  async health(): Promise<Health> {
    const client = this.superuser();
    await client.connect();
    try {
      const { rows } = await client.query<{ server_version: string }>('show server_version');
      return {
        version: `PostgreSQL ${rows[0]!.server_version.split(' ')[0]}`,
        endpoint: `${this.cfg.database.host}:${this.cfg.database.port}`,
        extra: `DATABASE_URL=${this.cfg.database.url.replace(/:[^:@/]*@/, ':***@')}`,
      };
    } finally {
      await client.end();
    }
  }

  async provision(): Promise<void> {
    await ensureDatabase(this.cfg, this.cfg.database.database);
  }

  pid(): number | undefined {
    const pid = readPid(path.join(this.dataDir, 'postmaster.pid'));
    return isAlive(pid) ? pid : undefined;
  }

  async stop(): Promise<void> {
    if (!this.pid()) return;
    await this.install();
    await asServerUser(this.bin('pg_ctl'), ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }
}

/** Creates the application role (from DATABASE_URL) and the named database if missing. */
export async function ensureDatabase(cfg: Config, database: string): Promise<void> {
  const client = new Client({
    host: cfg.database.host,
    port: cfg.database.port,
    user: SERVER_USER,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    const { user, password } = cfg.database;
    // Serialise concurrent provisioners (parallel test workers, two `npm start`s).
    await client.query('select pg_advisory_lock(727274)');
    const role = await client.query('select 1 from pg_roles where rolname = $1', [user]);
    if (role.rowCount === 0) {
      const pw = password ? ` password ${quoteLiteral(password)}` : '';
      await client.query(`create role ${quoteIdent(user)} login${pw}`);
    }
    await ensureReconcilerRole(client, cfg);
    const db = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (db.rowCount === 0) {
      await client.query(`create database ${quoteIdent(database)} owner ${quoteIdent(user)}`);
    }
  } finally {
    await client.end();
  }
}

/**
 * The reconciler's read-only role, with LOGIN and the password of RECONCILER_DATABASE_URL, for
 * the local stack (the migration grants it its privileges; elsewhere a DBA provisions it).
 * Called under ensureDatabase's lock: roles are cluster-wide and test workers run in parallel.
 */
async function ensureReconcilerRole(client: Client, cfg: Config): Promise<void> {
  const { user, password } = cfg.reconciler.database;
  if (user !== RECONCILER_DB_ROLE) return;
  const pw = password ? ` password ${quoteLiteral(password)}` : '';
  const role = await client.query<{ rolcanlogin: boolean }>('select rolcanlogin from pg_roles where rolname = $1', [user]);
  if (role.rowCount === 0) await client.query(`create role ${quoteIdent(user)} login${pw}`);
  else if (!role.rows[0]!.rolcanlogin) await client.query(`alter role ${quoteIdent(user)} login${pw}`);
}

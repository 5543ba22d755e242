/**
 * PostgreSQL from Debian's package, on its own data directory and port. The server refuses
 * to run as root, so as root every server command runs as the `postgres` user.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, type ClientConfig } from 'pg';
import { RECONCILER_DB_ROLE, type Config } from '../../lib/config';
import { STACK_VARIABLES, type StackConfig } from './config';
import { componentDir, type Component, type Health } from './component';
import { pkiAt } from './pki';
import { aptInstall, isAlive, isRoot, readPid, run } from './proc';

const SERVER_USER = 'postgres';

/**
 * The secure stack's client authentication: TLS and scram-sha-256 from loopback, and nothing
 * else (no trust line, no plaintext, no Unix socket). The developer stack is `initdb --auth=trust`.
 */
const SECURE_HBA = [
  '# order-saga secure stack (written at every start): TLS + scram-sha-256 only, no trust, no plaintext.',
  '# TYPE     DATABASE USER ADDRESS       METHOD',
  'hostssl    all      all  127.0.0.1/32  scram-sha-256',
  'hostssl    all      all  ::1/128       scram-sha-256',
  'hostnossl  all      all  0.0.0.0/0     reject',
  'hostnossl  all      all  ::/0          reject',
];

/**
 * How the stack's provisioning connects as the superuser: the developer stack trusts loopback;
 * the secure one (its DATABASE_URL asks for TLS) takes POSTGRES_SUPERUSER_PASSWORD and
 * verifies the server's certificate against the URL's sslrootcert. A password set without
 * TLS is sent too (a server with scram but no TLS, e.g. a container's).
 */
function superuserConfig(cfg: Pick<Config, 'database'>, database: string, connectionTimeoutMillis: number): ClientConfig {
  const { host, port, ssl } = cfg.database;
  const password = STACK_VARIABLES.readOne(process.env, 'POSTGRES_SUPERUSER_PASSWORD');
  const base = { host, port, user: SERVER_USER, database, connectionTimeoutMillis, ...(password !== undefined ? { password } : {}) };
  if (!ssl) return base;
  if (password === undefined) throw new Error('the secure stack needs POSTGRES_SUPERUSER_PASSWORD(_FILE) to provision PostgreSQL');
  return { ...base, ssl: { ca: ssl.rootCert ? fs.readFileSync(ssl.rootCert, 'utf8') : undefined } };
}

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

  constructor(private readonly cfg: StackConfig) {
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

  private get secure(): boolean {
    return this.cfg.stack.secure;
  }

  /** initdb: trust for the developer stack; for the secure one scram-sha-256, with the superuser's password. */
  private async initdb(): Promise<void> {
    const args = ['-D', this.dataDir, '-U', SERVER_USER, '--encoding=UTF8', '--locale=C'];
    if (!this.secure) {
      await asServerUser(this.bin('initdb'), [...args, '--auth=trust']);
      return;
    }
    const password = this.cfg.stack.postgresSuperuserPassword;
    if (!password) throw new Error('postgres: the secure stack has no POSTGRES_SUPERUSER_PASSWORD');
    // initdb reads the password from a file the server user can read; it lives only while initdb runs.
    const pwfile = path.join(this.dir, '.initdb-password');
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    try {
      if (isRoot()) await run('chown', [`${SERVER_USER}:${SERVER_USER}`, pwfile]);
      await asServerUser(this.bin('initdb'), [...args, '--auth=scram-sha-256', `--pwfile=${pwfile}`]);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  }

  /** A data directory made for the other mode is refused: trust lines must never serve the secure stack. */
  private assertMode(): void {
    const hba = fs.readFileSync(path.join(this.dataDir, 'pg_hba.conf'), 'utf8');
    const trusts = hba.split('\n').some((line) => /^\s*[^#\s].*\strust\s*$/.test(line));
    if (this.secure && trusts) {
      throw new Error(
        `${this.dataDir} was made by the developer stack (trust auth): use another STACK_DIR for the secure stack, or \`stack reset\``,
      );
    }
  }

  /** The server's certificate, key and CA inside the data directory, owned by the server user (it refuses a readable key). */
  private async installCerts(): Promise<string[]> {
    const pki = pkiAt(this.cfg.stack.dir);
    const files: [string, string][] = [
      [pki.cert('server').cert, 'server.crt'],
      [pki.cert('server').key, 'server.key'],
      [pki.caCert, 'root.crt'],
    ];
    for (const [from, to] of files) {
      const target = path.join(this.dataDir, to);
      fs.copyFileSync(from, target);
      fs.chmodSync(target, 0o600);
      if (isRoot()) await run('chown', [`${SERVER_USER}:${SERVER_USER}`, target]);
    }
    fs.writeFileSync(path.join(this.dataDir, 'pg_hba.conf'), SECURE_HBA.join('\n') + '\n');
    if (isRoot()) await run('chown', [`${SERVER_USER}:${SERVER_USER}`, path.join(this.dataDir, 'pg_hba.conf')]);
    return [
      'ssl = on',
      "ssl_cert_file = 'server.crt'",
      "ssl_key_file = 'server.key'",
      "ssl_ca_file = 'root.crt'",
      "ssl_min_protocol_version = 'TLSv1.2'",
      "password_encryption = 'scram-sha-256'",
    ];
  }

  async start(): Promise<void> {
    await this.prepareDirs();
    if (!fs.existsSync(path.join(this.dataDir, 'PG_VERSION'))) {
      await this.initdb();
      fs.appendFileSync(path.join(this.dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'order_saga.conf'\n");
    }
    this.assertMode();
    const tls = this.secure ? await this.installCerts() : [];
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
        ...tls,
      ].join('\n') + '\n',
    );
    if (isRoot()) await run('chown', [`${SERVER_USER}:${SERVER_USER}`, path.join(this.dataDir, 'order_saga.conf')]);
    // pg_ctl daemonizes the server itself; -w waits until it accepts connections.
    await asServerUser(this.bin('pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '90', 'start']);
  }

  private superuser(database = 'postgres'): Client {
    return new Client(superuserConfig(this.cfg, database, 2000));
  }

  async health(): Promise<Health> {
    const client = this.superuser();
    await client.connect();
    try {
      const { rows } = await client.query<{ server_version: string }>('show server_version');
      return {
        version: `PostgreSQL ${rows[0]!.server_version.split(' ')[0]}${this.secure ? ' (TLS, scram-sha-256 only)' : ' (trust auth: developer stack)'}`,
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

  /** `fast` rolls back sessions and checkpoints; `immediate` is a crash (recovery replays the WAL at the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.pid()) return;
    await this.install();
    await asServerUser(this.bin('pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }
}

/**
 * The roles of the trust boundary (docs/deploy.md, "Database roles"). Group roles hold privileges
 * (granted by the migrations); logins are members. In production a DBA or the operator
 * (CloudNativePG managed roles) creates them; locally this provisioning step does.
 */
export const DB_GROUPS = { app: 'order_saga_app', reader: 'order_saga_reader' } as const;

type SuperClient = InstanceType<typeof Client>;

/**
 * Creates a role if missing. `login.sync`: the password is set even on an existing role (the
 * secure stack's passwords are its files': a rotated file takes effect at the next `up`).
 */
async function ensureRole(
  client: SuperClient,
  name: string,
  login: { password: string; sync?: boolean } | null,
  memberOf: string[] = [],
): Promise<void> {
  const exists = await client.query('select 1 from pg_roles where rolname = $1', [name]);
  if (exists.rowCount === 0) {
    const how = login ? `login${login.password ? ` password ${quoteLiteral(login.password)}` : ''}` : 'nologin';
    await client.query(`create role ${quoteIdent(name)} ${how}`);
  } else if (login?.sync && login.password) {
    await client.query(`alter role ${quoteIdent(name)} password ${quoteLiteral(login.password)}`);
  }
  for (const group of memberOf) await client.query(`grant ${quoteIdent(group)} to ${quoteIdent(name)}`);
}

/**
 * Creates the roles and the named database if missing: the owner (DATABASE_OWNER_URL) owns
 * the database and runs migrations; the app login (DATABASE_URL) is a member of
 * order_saga_app; the reader login (DATABASE_READER_URL) of order_saga_reader. A database
 * made before the roles existed is handed to the owner, objects included. `settings` become
 * the database's defaults (`ALTER DATABASE ... SET`, seen by new sessions).
 */
export async function ensureDatabase(cfg: Config, database: string, settings: Record<string, string> = {}): Promise<void> {
  const connect = async (db: string) => {
    const c = new Client(superuserConfig(cfg, db, 5000));
    await c.connect();
    return c;
  };
  const { databaseOwner: owner, database: app, databaseReader: reader } = cfg;
  if (new Set([owner.user, app.user, reader.user]).size !== 3) {
    throw new Error(
      `DATABASE_URL, DATABASE_OWNER_URL and DATABASE_READER_URL must name three different roles (${app.user}, ${owner.user}, ${reader.user})`,
    );
  }
  const client = await connect('postgres');
  try {
    // Serialise concurrent provisioners (parallel test workers, two `npm start`s).
    await client.query('select pg_advisory_lock(727274)');
    await ensureRole(client, DB_GROUPS.app, null);
    await ensureRole(client, DB_GROUPS.reader, null);
    const sync = cfg.database.ssl !== undefined;
    await ensureRole(client, owner.user, { password: owner.password, sync });
    await ensureRole(client, app.user, { password: app.password, sync }, [DB_GROUPS.app]);
    await ensureRole(client, reader.user, { password: reader.password, sync }, [DB_GROUPS.reader]);
    await ensureReconcilerRole(client, cfg, sync);
    const db = await client.query<{ owner: string }>('select pg_get_userbyid(datdba) as owner from pg_database where datname = $1', [
      database,
    ]);
    if (db.rowCount === 0) {
      await client.query(`create database ${quoteIdent(database)} owner ${quoteIdent(owner.user)}`);
    } else if (db.rows[0]!.owner !== owner.user) {
      await client.query(`alter database ${quoteIdent(database)} owner to ${quoteIdent(owner.user)}`);
    }
    for (const [setting, value] of Object.entries(settings)) {
      await client.query(`alter database ${quoteIdent(database)} set ${quoteIdent(setting)} = ${quoteLiteral(value)}`);
    }
  } finally {
    await client.end();
  }
  // A database from before the roles: its tables move to the owner (the app keeps only its grants).
  const inDb = await connect(database);
  try {
    const stale = await inDb.query(
      'select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and pg_get_userbyid(c.relowner) = $2 limit 1',
      ['public', app.user],
    );
    // Object by object (REASSIGN OWNED would also hand over every other database the app role owns).
    if (stale.rowCount) {
      await inDb.query(`
        DO $$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = ${quoteLiteral(app.user)} AND c.relkind IN ('r', 'p', 'v', 'm')
          LOOP
            -- Indexes and serial sequences follow their table.
            EXECUTE format('ALTER TABLE %I OWNER TO %I', r.relname, ${quoteLiteral(owner.user)});
          END LOOP;
          FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = ${quoteLiteral(app.user)}
          LOOP
            EXECUTE format('ALTER FUNCTION %s OWNER TO %I', r.fn, ${quoteLiteral(owner.user)});
          END LOOP;
        END $$`);
    }
  } finally {
    await inDb.end();
  }
}

/** Drops a database (tests' scratch databases), ending its sessions: the superuser's job. */
export async function dropDatabase(cfg: Config, database: string): Promise<void> {
  const client = new Client(superuserConfig(cfg, 'postgres', 5000));
  await client.connect();
  try {
    await client.query(`drop database if exists ${quoteIdent(database)} with (force)`);
  } finally {
    await client.end();
  }
}

/**
 * The reconciler's read-only role, with LOGIN and the password of RECONCILER_DATABASE_URL, for
 * the local stack (the migration grants it its privileges; elsewhere a DBA provisions it).
 * Called under ensureDatabase's lock: roles are cluster-wide and test workers run in parallel.
 */
async function ensureReconcilerRole(client: Client, cfg: Config, sync: boolean): Promise<void> {
  const { user, password } = cfg.reconciler.database;
  if (user !== RECONCILER_DB_ROLE) return;
  const pw = password ? ` password ${quoteLiteral(password)}` : '';
  const role = await client.query<{ rolcanlogin: boolean }>('select rolcanlogin from pg_roles where rolname = $1', [user]);
  if (role.rowCount === 0) await client.query(`create role ${quoteIdent(user)} login${pw}`);
  else if (!role.rows[0]!.rolcanlogin || (sync && pw)) await client.query(`alter role ${quoteIdent(user)} login${pw}`);
}

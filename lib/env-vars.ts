/**
 * Environment variables declared as data: each one has a parser (a zod schema over the raw
 * string, with its range or allowed values), a default, a one-line doc, and the group it
 * belongs to. lib/config.ts (the app) and scripts/stack/config.ts (the local stack) each
 * declare one table; loading reads it, and scripts/config-docs.ts renders it into docs/configuration.md.
 *
 * zod rather than hand-written checks: it is already the API's validation library, so the
 * parsers compose (string -> number -> range) and carry their own error messages, and the
 * same idiom validates nested values such as FAULT_INJECTION's JSON rules. What zod does not
 * give us (defaults shown in docs, a variable name on every error) is the thin layer below.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/** Thrown when an environment variable holds a value that cannot be used. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/** How one variable's trimmed raw value becomes a typed value. */
export interface Parser<T> {
  /** Which builder made it (tests check that each kind rejects a bad value). */
  readonly kind: string;
  readonly schema: z.ZodType<T, string>;
  /** What it accepts, as docs/configuration.md shows it (`1..65535`, `host:port`, ...). */
  readonly accepts: string;
  /** Milliseconds: docs/configuration.md adds a readable form of the default. */
  readonly unit?: 'ms';
}

/** A default computed from other variables; `shown` is what docs/configuration.md says instead. */
export interface DerivedDefault {
  readonly shown: string;
  readonly from: (env: Env) => string;
}

export function derived(shown: string, from: (env: Env) => string): DerivedDefault {
  return { shown, from };
}

/** One environment variable. Unset or blank means `default`, or undefined if there is none. */
export interface Variable<T = unknown> {
  readonly parser: Parser<T>;
  /** A raw value, parsed and validated exactly like a set one. */
  readonly default?: string | DerivedDefault;
  /** One line for docs/configuration.md. */
  readonly doc: string;
  /** Tests and debugging only: the app refuses it when NODE_ENV=production. */
  readonly testOnly?: true;
  /**
   * A secret or a certificate: `<NAME>_FILE` may name a file holding the value instead
   * (a mounted secret), read once at start-up. Setting both is an error.
   */
  readonly fromFile?: true;
}

/** The variable that names a file holding `name`'s value (for declarations with `fromFile`). */
export const fileVariable = (name: string): string => `${name}_FILE`;

export type Group = 'app' | 'stack';

type Declarations = Record<string, Variable<unknown>>;

type ValueOf<V extends Variable> = V extends { default: string | DerivedDefault }
  ? z.output<V['parser']['schema']>
  : z.output<V['parser']['schema']> | undefined;

/** The typed values of a table, keyed by variable name. */
export type Values<D extends Declarations> = { [K in keyof D]: ValueOf<D[K]> };

/** What docs and generic checks see of a table. */
export interface DeclaredVariables {
  readonly group: Group;
  /** Declaration order, which is also docs/configuration.md's order. */
  readonly names: readonly string[];
  declaration(name: string): Variable | undefined;
}

export interface VariableTable<D extends Declarations> extends DeclaredVariables {
  readonly variables: D;
  readonly names: readonly (keyof D & string)[];
  /** Reads and validates every variable; throws ConfigError naming the first bad one. */
  read(env: Env): Values<D>;
  /** Reads and validates one variable. */
  readOne<K extends keyof D & string>(env: Env, name: K): ValueOf<D[K]>;
}

/**
 * The raw value of a variable: the variable itself, or for a `fromFile` declaration the
 * content of the file `<NAME>_FILE` names (trimmed, as a set variable is). Never both.
 */
function rawValue(env: Env, name: string, variable: Variable): string | undefined {
  const direct = env[name]?.trim() || undefined;
  if (!variable.fromFile) return direct;
  const fileName = fileVariable(name);
  const file = env[fileName]?.trim() || undefined;
  if (file === undefined) return direct;
  if (direct !== undefined) throw new ConfigError(name, `set either ${name} or ${fileName}, not both`);
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(fileName, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const value = content.trim();
  if (!value) throw new ConfigError(fileName, `${file} is empty`);
  return value;
}

/** The value a derived default sees of another variable: set, or read from its `_FILE` (a `fromFile` variable). */
export function rawSetting(env: Env, name: string): string | undefined {
  return rawValue(env, name, { fromFile: true } as Variable);
}

function readVariable(env: Env, name: string, variable: Variable): unknown {
  const raw = rawValue(env, name, variable);
  const value = raw ?? (typeof variable.default === 'object' ? variable.default.from(env) : variable.default);
  if (value === undefined) return undefined;
  const result = variable.parser.schema.safeParse(value);
  if (result.success) return result.data;
  const problem = result.error.issues[0]?.message ?? 'invalid value';
  throw new ConfigError(name, raw === undefined ? `the default "${value}" is invalid: ${problem}` : problem);
}

/** Declares one group's variables; an object literal, so a name cannot be declared twice. */
export function declareVariables<const D extends Declarations>(group: Group, variables: D): VariableTable<D> {
  const names = Object.keys(variables) as (keyof D & string)[];
  return {
    group,
    variables,
    names,
    declaration: (name) => (Object.hasOwn(variables, name) ? variables[name] : undefined),
    read: (env) => Object.fromEntries(names.map((name) => [name, readVariable(env, name, variables[name]!)])) as Values<D>,
    readOne: (env, name) => readVariable(env, name, variables[name]!) as ValueOf<D[typeof name]>,
  };
}

// ---------------------------------------------------------------- parsers

const got = (input: unknown) => `got "${String(input)}"`;

/** Any text. */
export function text(): Parser<string> {
  return { kind: 'text', schema: z.string(), accepts: 'text' };
}

/** A secret: any text of at least `minLength` characters (never echoed in an error). */
export function secret(minLength: number): Parser<string> {
  return {
    kind: 'secret',
    schema: z.string().refine((v) => v.length >= minLength, {
      error: (iss) => `must be at least ${minLength} characters (got ${String(iss.input).length})`,
    }),
    accepts: `text, >= ${minLength} characters`,
  };
}

/** PEM text: one or more `-----BEGIN <label>-----` blocks (a certificate, a chain, a private key). */
export function pem(label: 'CERTIFICATE' | 'PRIVATE KEY'): Parser<string> {
  const begin = label === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;
  return {
    kind: 'pem',
    schema: z
      .string()
      .refine((v) => begin.test(v), { error: () => `expected PEM text with a ${label} block (or set the _FILE variant to its path)` }),
    accepts: `PEM (${label.toLowerCase()})`,
  };
}

/** `true` or `false`. */
export function bool(): Parser<boolean> {
  return {
    kind: 'bool',
    schema: z.enum(['true', 'false'], { error: (iss) => `expected true or false, ${got(iss.input)}` }).transform((v) => v === 'true'),
    accepts: '`true`, `false`',
  };
}

/** An integer within min..max. */
export function integer(min: number, max: number): Parser<number> {
  const range = { error: (iss: { input?: unknown }) => `expected ${min}..${max}, got ${String(iss.input)}` };
  return {
    kind: 'integer',
    schema: z
      .string()
      .regex(/^-?\d+$/, { error: (iss) => `expected an integer, ${got(iss.input)}` })
      .transform(Number)
      .pipe(z.number().min(min, range).max(max, range)),
    accepts: `${min}..${max}`,
  };
}

/** A decimal number within min..max (a ratio, a share). */
export function decimal(min: number, max: number): Parser<number> {
  const range = { error: (iss: { input?: unknown }) => `expected ${min}..${max}, got ${String(iss.input)}` };
  return {
    kind: 'decimal',
    schema: z
      .string()
      .regex(/^-?(\d+\.?\d*|\.\d+)$/, { error: (iss) => `expected a number, ${got(iss.input)}` })
      .transform(Number)
      .pipe(z.number().min(min, range).max(max, range)),
    accepts: `${min}..${max}`,
  };
}

export function port(): Parser<number> {
  return integer(1, 65535);
}

const UNITS: [ms: number, name: string][] = [
  [24 * 3600_000, 'days'],
  [3600_000, 'h'],
  [60_000, 'min'],
  [1000, 's'],
];

/** 604800000 -> "7 days": milliseconds are hard to read beyond a few digits. */
export function readableMs(ms: number): string | undefined {
  const unit = UNITS.find(([size]) => ms >= size && ms % size === 0);
  if (!unit) return undefined;
  const count = ms / unit[0];
  return `${count} ${unit[1] === 'days' && count === 1 ? 'day' : unit[1]}`;
}

/** A duration in milliseconds within min..max. */
export function durationMs(min: number, max: number): Parser<number> {
  const bound = (ms: number) => (ms === 0 ? '0' : (readableMs(ms) ?? `${ms} ms`));
  return { ...integer(min, max), kind: 'durationMs', accepts: `ms, ${bound(min)}..${bound(max)}`, unit: 'ms' };
}

export function oneOf<const T extends readonly [string, ...string[]]>(allowed: T): Parser<T[number]> {
  return {
    kind: 'oneOf',
    schema: z.enum(allowed, { error: (iss) => `expected one of ${allowed.join(', ')}, ${got(iss.input)}` }),
    accepts: allowed.map((a) => `\`${a}\``).join(', '),
  };
}

/** A comma-separated, non-empty list of allowed values (duplicates dropped, order kept). */
export function oneOfList<const T extends readonly [string, ...string[]]>(allowed: T): Parser<T[number][]> {
  return {
    kind: 'oneOfList',
    schema: z.string().transform((value, ctx) => {
      const items = [...new Set(value.split(',').map((v) => v.trim()))].filter(Boolean);
      const bad = items.find((item) => !(allowed as readonly string[]).includes(item));
      if (items.length === 0 || bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of ${allowed.join(', ')}, ${got(bad ?? value)}` });
        return z.NEVER;
      }
      return items as T[number][];
    }),
    accepts: `comma-separated: ${allowed.map((a) => `\`${a}\``).join(', ')}`,
  };
}

const HOST = /^([A-Za-z0-9.\-_]+|\[[0-9a-fA-F:]+\])$/;
const HOST_PORT = /^([A-Za-z0-9.\-_]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/** A host name or IP address to listen on or dial. */
export function host(): Parser<string> {
  return {
    kind: 'host',
    schema: z.string().regex(HOST, { error: (iss) => `expected a host name or IP address, ${got(iss.input)}` }),
    accepts: 'host',
  };
}

function splitHostPort(value: string, ctx: z.RefinementCtx): { host: string; port: number } {
  const match = HOST_PORT.exec(value);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected host:port, ${got(value)}` });
    return z.NEVER;
  }
  const p = Number(match[2]);
  if (p < 1 || p > 65535) {
    ctx.addIssue({ code: 'custom', message: `port out of range in "${value}"` });
    return z.NEVER;
  }
  return { host: match[1]!, port: p };
}

export function hostPort(): Parser<{ host: string; port: number }> {
  return { kind: 'hostPort', schema: z.string().transform(splitHostPort), accepts: 'host:port' };
}

/** A comma-separated, non-empty list of host:port (kept as written, trimmed). */
export function hostPortList(): Parser<string[]> {
  return {
    kind: 'hostPortList',
    schema: z.string().transform((value, ctx) => {
      const items = value
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean);
      if (items.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'no broker given' });
        return z.NEVER;
      }
      for (const item of items) splitHostPort(item, ctx);
      return items;
    }),
    accepts: 'host:port,...',
  };
}

export function kafkaTopic(): Parser<string> {
  return {
    kind: 'kafkaTopic',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, { error: (iss) => `not a valid Kafka topic name: "${String(iss.input)}"` }),
    accepts: 'topic name',
  };
}

/** A name that may appear in a Kafka group id or a Prometheus label. */
export function label(): Parser<string> {
  return {
    kind: 'label',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, { error: (iss) => `expected letters, digits, '.', '_' or '-', ${got(iss.input)}` }),
    accepts: 'letters, digits, `.` `_` `-`',
  };
}

export interface DatabaseSettings {
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** TLS as the URL asks for it (`?sslmode=verify-full&sslrootcert=<CA file>`); undefined: plaintext. */
  ssl?: { mode: string; rootCert?: string };
}

/** sslmode values that verify the server's certificate and name, as node-postgres treats them all. */
const SSL_MODES = ['require', 'verify-ca', 'verify-full'];

/** A postgresql:// URL naming a user and a database. Its value is never echoed (it may hold a password). */
export function postgresUrl(): Parser<DatabaseSettings> {
  return {
    kind: 'postgresUrl',
    schema: z.string().transform((value, ctx) => {
      const fail = (message: string) => {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      };
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return fail('not a URL');
      }
      if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
        return fail(`expected a postgresql:// URL, got protocol "${url.protocol}"`);
      }
      const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
      if (!database) return fail('the URL names no database');
      if (!url.username) return fail('the URL names no user');
      const mode = url.searchParams.get('sslmode') ?? undefined;
      const rootCert = url.searchParams.get('sslrootcert') ?? undefined;
      if (mode !== undefined && mode !== 'disable' && !SSL_MODES.includes(mode)) {
        return fail(`sslmode must be disable, ${SSL_MODES.join(', ')} (got "${mode}")`);
      }
      if (rootCert !== undefined && !fs.existsSync(rootCert)) return fail(`sslrootcert ${rootCert} does not exist`);
      return {
        ...(mode && mode !== 'disable' ? { ssl: { mode, ...(rootCert ? { rootCert } : {}) } } : {}),
        url: value,
        host: url.hostname,
        port: url.port ? Number(url.port) : 5432,
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database,
      };
    }),
    accepts: '`postgresql://user[:password]@host[:port]/database[?sslmode=verify-full&sslrootcert=<CA file>]`',
  };
}

export function httpUrl(): Parser<string> {
  return {
    kind: 'httpUrl',
    schema: z.url({ protocol: /^https?$/, error: (iss) => `expected an http:// or https:// URL, ${got(iss.input)}` }),
    accepts: 'http(s) URL',
  };
}

/** A file or directory path, resolved against `base` (default: the working directory). */
export function filePath(base?: string): Parser<string> {
  return {
    kind: 'filePath',
    schema: z.string().transform((value) => (base ? path.resolve(base, value) : path.resolve(value))),
    accepts: base ? 'path (relative to the repository)' : 'path',
  };
}

/** Address ranges proxy-addr knows by name. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An IP address, `address/prefix`, or one of proxy-addr's named ranges. */
function isAddressRange(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Which proxies in front may be believed about the client address (express "trust proxy"):
 * `false` (none: the socket address counts), a hop count, or a list of addresses/CIDRs. Never
 * `true`, which believes the leftmost, client-chosen X-Forwarded-For entry.
 */
export function trustedProxies(maxHops: number): Parser<false | number | string[]> {
  return {
    kind: 'trustedProxies',
    schema: z.string().transform((value, ctx) => {
      if (value === 'false') return false;
      if (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= maxHops) return Number(value);
      const entries = value.split(',').map((e) => e.trim());
      const bad = entries.find((e) => !isAddressRange(e));
      if (bad === undefined) return entries;
      const why = value === 'true' ? ' ("true" would believe the client-supplied leftmost X-Forwarded-For entry)' : '';
      ctx.addIssue({
        code: 'custom',
        message: `expected false, a hop count 1..${maxHops} or a list of IP/CIDR ranges, ${got(value)}${why}`,
      });
      return z.NEVER;
    }),
    accepts: `\`false\`, hops 1..${maxHops}, IP/CIDR list (\`10.0.0.0/8,loopback\`)`,
  };
}

/** JSON text whose value `schema` accepts. */
export function json<T>(schema: z.ZodType<T>, accepts: string): Parser<T> {
  return {
    kind: 'json',
    schema: z.string().transform((value, ctx) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
      const result = schema.safeParse(parsed);
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        const where = issue.path.length ? ` at ${issue.path.join('.')}` : '';
        ctx.addIssue({ code: 'custom', message: `${issue.message}${where}` });
      }
      return z.NEVER;
    }),
    accepts,
  };
}

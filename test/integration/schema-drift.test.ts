/**
 * Proves the migrated database and prisma/schema.prisma agree. The migrations are hand-written
 * SQL (lib/migrate.ts applies them, since Prisma's schema engine is unavailable here), so
 * nothing else stops them drifting apart. The schema is read through Prisma's own parser
 * (the DMMF from @prisma/prisma-schema-wasm); the database through pg_catalog.
 *
 * Checked, per model: the table; per scalar field: the column, its nullability, type and
 * whether it has a default; the primary key; every @unique/@@unique and @@index; every
 * relation's foreign key (columns, target, referential actions). In reverse: every table is a
 * model, every column a field, every foreign key a relation. Allowed extras, being what Prisma
 * cannot express: indexes (partial or not), CHECK constraints, triggers and functions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import { Client } from 'pg';
import { repoRoot } from '../../lib/config';
import { readMigrations } from '../../lib/migrate';
import { testConfig } from '../setup/test-config';

const SCHEMA_PATH = path.join(repoRoot, 'prisma', 'schema.prisma');
/** Tables that are not models: Prisma's own bookkeeping. */
const NON_MODEL_TABLES = new Set(['_prisma_migrations']);

// ---------------------------------------------------------------- the schema, via the DMMF

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isRequired: boolean;
  isList: boolean;
  isId: boolean;
  isUnique: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
  uniqueIndexes: { name: string | null; fields: string[] }[];
}

interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  fields: { name: string }[];
}

interface DmmfEnum {
  name: string;
  dbName?: string | null;
}

interface Datamodel {
  models: DmmfModel[];
  enums: DmmfEnum[];
  indexes: DmmfIndex[];
}

/** Parses schema text with Prisma's own parser; throws on an invalid schema. */
function loadDatamodel(schemaText: string): Datamodel {
  const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: schemaText }))) as { datamodel: Datamodel };
  return dmmf.datamodel;
}

const tableOf = (m: DmmfModel): string => m.dbName ?? m.name;
const columnOf = (f: DmmfField): string => f.dbName ?? f.name;
const scalarFields = (m: DmmfModel): DmmfField[] => m.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum');

/** Field names of a model to column names; an unknown field name is returned as `?name`. */
function columnsOf(m: DmmfModel, fieldNames: string[]): string[] {
  return fieldNames.map((name) => {
    const f = m.fields.find((x) => x.name === name);
    return f ? columnOf(f) : `?${name}`;
  });
}

/** The type PostgreSQL's format_type() reports for a column Prisma would create for this field. */
function expectedColumnType(f: DmmfField, dm: Datamodel): string {
  let base: string;
  if (f.kind === 'enum') {
    const e = dm.enums.find((x) => x.name === f.type);
    base = e?.dbName ?? f.type;
  } else if (f.nativeType) {
    const [name, args] = f.nativeType;
    base = nativeColumnType(name, args);
  } else {
    base = SCALAR_DEFAULT_TYPES[f.type] ?? `<no default PostgreSQL type for Prisma type ${f.type}>`;
  }
  return f.isList ? `${base}[]` : base;
}

const SCALAR_DEFAULT_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Boolean: 'boolean',
  Bytes: 'bytea',
};

function nativeColumnType(name: string, args: string[]): string {
  const withArgs = (t: string, suffix = ''): string => (args.length ? `${t}(${args.join(',')})${suffix}` : `${t}${suffix}`);
  switch (name) {
    case 'Text':
      return 'text';
    case 'Char':
      return args.length ? `character(${args.join(',')})` : 'character(1)';
    case 'VarChar':
      return withArgs('character varying');
    case 'Uuid':
      return 'uuid';
    case 'SmallInt':
      return 'smallint';
    case 'Integer':
      return 'integer';
    case 'BigInt':
      return 'bigint';
    case 'Real':
      return 'real';
    case 'DoublePrecision':
      return 'double precision';
    case 'Decimal':
      return withArgs('numeric');
    case 'Money':
      return 'money';
    case 'Boolean':
      return 'boolean';
    case 'Timestamptz':
      return withArgs('timestamp', ' with time zone');
    case 'Timestamp':
      return withArgs('timestamp', ' without time zone');
    case 'Date':
      return 'date';
    case 'Time':
      return withArgs('time', ' without time zone');
    case 'Timetz':
      return withArgs('time', ' with time zone');
    case 'Json':
      return 'json';
    case 'JsonB':
      return 'jsonb';
    case 'ByteA':
      return 'bytea';
    case 'Inet':
      return 'inet';
    case 'Citext':
      return 'citext';
    case 'Xml':
      return 'xml';
    case 'Oid':
      return 'oid';
    case 'Bit':
      return withArgs('bit');
    case 'VarBit':
      return withArgs('bit varying');
    default:
      return `<unsupported native type @db.${name}>`;
  }
}

type ExpectedDefault = { kind: 'none' } | { kind: 'sequence' } | { kind: 'now' } | { kind: 'literal'; value: string } | { kind: 'any' };

/** What column default Prisma would give the column (client-side defaults give none). */
function expectedDefault(f: DmmfField): ExpectedDefault {
  if (!f.hasDefaultValue || f.default === undefined) return { kind: 'none' };
  const d = f.default;
  if (d !== null && typeof d === 'object' && !Array.isArray(d) && 'name' in d) {
    switch ((d as { name: string }).name) {
      case 'autoincrement':
        return { kind: 'sequence' };
      case 'now':
        return { kind: 'now' };
      case 'dbgenerated':
        return { kind: 'any' };
      default:
        return { kind: 'none' }; // uuid(), cuid(), nanoid(), ulid(): generated by the client
    }
  }
  if (Array.isArray(d)) return { kind: 'any' };
  return { kind: 'literal', value: String(d) };
}

// ---------------------------------------------------------------- the database, via pg_catalog

interface DbColumn {
  name: string;
  type: string;
  notNull: boolean;
  defaultExpr: string | null;
  identity: boolean;
}

interface DbIndex {
  name: string;
  columns: (string | null)[];
  unique: boolean;
  primary: boolean;
  partial: boolean;
  hasExpressions: boolean;
}

interface DbForeignKey {
  name: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
  onDelete: string;
  onUpdate: string;
}

interface DbTable {
  name: string;
  columns: Map<string, DbColumn>;
  primaryKey: string[] | null;
  indexes: DbIndex[];
  foreignKeys: DbForeignKey[];
}

type DbSchema = Map<string, DbTable>;

async function readDatabase(client: Client): Promise<DbSchema> {
  const tables: DbSchema = new Map();
  const table = (name: string): DbTable => {
    const t = tables.get(name);
    if (!t) throw new Error(`table ${name} was not listed`);
    return t;
  };

  const { rows: tableRows } = await client.query<{ name: string }>(`
    SELECT c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')`);
  for (const { name } of tableRows) {
    tables.set(name, { name, columns: new Map(), primaryKey: null, indexes: [], foreignKeys: [] });
  }

  const { rows: columnRows } = await client.query<{
    table: string;
    name: string;
    type: string;
    not_null: boolean;
    default_expr: string | null;
    identity: boolean;
  }>(`
    SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
           a.attidentity <> '' AS identity
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`);
  for (const r of columnRows) {
    table(r.table).columns.set(r.name, {
      name: r.name,
      type: r.type,
      notNull: r.not_null,
      defaultExpr: r.default_expr,
      identity: r.identity,
    });
  }

  const { rows: indexRows } = await client.query<{
    table: string;
    name: string;
    columns: (string | null)[];
    unique: boolean;
    primary: boolean;
    partial: boolean;
    has_expressions: boolean;
  }>(`
    SELECT t.relname AS table, i.relname AS name,
           ARRAY(SELECT a.attname::text
                   FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                   LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                  WHERE k.ord <= x.indnkeyatts
                  ORDER BY k.ord)::text[] AS columns,
           x.indisunique AS unique, x.indisprimary AS primary,
           x.indpred IS NOT NULL AS partial, x.indexprs IS NOT NULL AS has_expressions
      FROM pg_index x
      JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p')`);
  for (const r of indexRows) {
    table(r.table).indexes.push({
      name: r.name,
      columns: r.columns,
      unique: r.unique,
      primary: r.primary,
      partial: r.partial,
      hasExpressions: r.has_expressions,
    });
  }

  const { rows: constraintRows } = await client.query<{
    table: string;
    name: string;
    type: 'p' | 'f';
    columns: string[];
    ref_table: string | null;
    ref_columns: string[] | null;
    on_delete: string;
    on_update: string;
  }>(`
    SELECT t.relname AS table, con.conname AS name, con.contype AS type,
           ARRAY(SELECT a.attname::text
                   FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                  ORDER BY k.ord)::text[] AS columns,
           r.relname AS ref_table,
           CASE WHEN con.contype = 'f' THEN
             ARRAY(SELECT a.attname::text
                     FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                    ORDER BY k.ord)::text[]
           END AS ref_columns,
           con.confdeltype AS on_delete, con.confupdtype AS on_update
      FROM pg_constraint con
      JOIN pg_class t ON t.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      LEFT JOIN pg_class r ON r.oid = con.confrelid
     WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p') AND con.contype IN ('p', 'f')`);
  for (const r of constraintRows) {
    const t = table(r.table);
    if (r.type === 'p') {
      t.primaryKey = r.columns;
    } else {
      t.foreignKeys.push({
        name: r.name,
        columns: r.columns,
        refTable: r.ref_table ?? '?',
        refColumns: r.ref_columns ?? [],
        onDelete: FK_ACTIONS[r.on_delete] ?? r.on_delete,
        onUpdate: FK_ACTIONS[r.on_update] ?? r.on_update,
      });
    }
  }
  return tables;
}

/** pg_constraint.confdeltype/confupdtype codes, as Prisma names the referential actions. */
const FK_ACTIONS: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

// ---------------------------------------------------------------- the comparison

const list = (cols: readonly (string | null)[]): string => `(${cols.map((c) => c ?? '<expression>').join(', ')})`;
const sameOrdered = (a: readonly (string | null)[], b: readonly (string | null)[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const sameSet = (a: readonly (string | null)[], b: readonly (string | null)[]): boolean =>
  a.length === b.length && new Set(a).size === a.length && a.every((x) => b.includes(x));

/** Strips casts and quotes: `'USD'::bpchar` -> USD, `0` -> 0. */
function literalOf(expr: string): string {
  let e = expr.trim();
  for (let prev = ''; prev !== e;) {
    prev = e;
    e = e.replace(/::[a-z_ "]+(\(\d+(,\d+)?\))?(\[\])?$/i, '').trim();
    if (e.startsWith('(') && e.endsWith(')')) e = e.slice(1, -1).trim();
  }
  return e.startsWith("'") && e.endsWith("'") ? e.slice(1, -1).replace(/''/g, "'") : e;
}

function checkDefault(where: string, col: DbColumn, expected: ExpectedDefault): string | null {
  const actual = col.identity ? 'identity' : col.defaultExpr;
  switch (expected.kind) {
    case 'any':
      return actual === null ? `${where}: schema has a database default (dbgenerated) but the column has none` : null;
    case 'none':
      return actual === null ? null : `${where}: column has default ${actual} but the schema declares none`;
    case 'sequence':
      return actual === 'identity' || /^nextval\(/.test(actual ?? '')
        ? null
        : `${where}: schema says @default(autoincrement()) but the column default is ${actual ?? 'none'}`;
    case 'now':
      return /^(CURRENT_TIMESTAMP|now\(\))/i.test(actual ?? '')
        ? null
        : `${where}: schema says @default(now()) but the column default is ${actual ?? 'none'}`;
    case 'literal':
      return actual !== null && literalOf(actual) === expected.value
        ? null
        : `${where}: schema says @default(${expected.value}) but the column default is ${actual ?? 'none'}`;
  }
}

/** Every difference between the datamodel and the database, one readable line each. */
function compareSchemaWithDatabase(dm: Datamodel, db: DbSchema): string[] {
  const problems: string[] = [];
  const modelsByTable = new Map(dm.models.map((m) => [tableOf(m), m]));
  const expectedForeignKeys = new Map<string, { table: string; columns: string[] }[]>();

  for (const model of dm.models) {
    const tableName = tableOf(model);
    const table = db.get(tableName);
    if (!table) {
      problems.push(`model ${model.name}: table ${tableName} does not exist`);
      continue;
    }

    // Columns.
    for (const f of scalarFields(model)) {
      const where = `${model.name}.${f.name} (column ${tableName}.${columnOf(f)})`;
      const col = table.columns.get(columnOf(f));
      if (!col) {
        problems.push(`${where}: column does not exist`);
        continue;
      }
      if (col.notNull !== f.isRequired) {
        problems.push(
          `${where}: field is ${f.isRequired ? 'required' : 'optional'} but the column is ${col.notNull ? 'NOT NULL' : 'nullable'}`,
        );
      }
      const want = expectedColumnType(f, dm);
      if (col.type !== want) {
        const declared = `${f.type}${f.nativeType ? ` @db.${f.nativeType[0]}${f.nativeType[1].length ? `(${f.nativeType[1].join(',')})` : ''}` : ''}`;
        problems.push(`${where}: field ${declared} needs column type ${want} but the column is ${col.type}`);
      }
      const defaultProblem = checkDefault(where, col, expectedDefault(f));
      if (defaultProblem) problems.push(defaultProblem);
    }

    // Primary key (@id or @@id).
    const idFields = model.primaryKey?.fields ?? model.fields.filter((f) => f.isId).map((f) => f.name);
    const wantPk = columnsOf(model, idFields);
    if (wantPk.length === 0) {
      if (table.primaryKey)
        problems.push(`model ${model.name}: table ${tableName} has primary key ${list(table.primaryKey)} but the model has no @id`);
    } else if (!table.primaryKey) {
      problems.push(`model ${model.name}: table ${tableName} has no primary key; expected ${list(wantPk)}`);
    } else if (!sameOrdered(table.primaryKey, wantPk)) {
      problems.push(`model ${model.name}: primary key of ${tableName} is ${list(table.primaryKey)}; expected ${list(wantPk)}`);
    }

    // @unique and @@unique: a unique, non-partial index over exactly those columns.
    const uniques = [
      ...model.fields.filter((f) => f.isUnique).map((f) => ({ label: `@unique on ${f.name}`, fields: [f.name] })),
      ...model.uniqueIndexes.map((u) => ({ label: `@@unique([${u.fields.join(', ')}])`, fields: u.fields })),
    ];
    for (const u of uniques) {
      const cols = columnsOf(model, u.fields);
      const found = table.indexes.some((i) => i.unique && !i.partial && !i.hasExpressions && sameSet(i.columns, cols));
      if (!found) problems.push(`model ${model.name}: ${u.label} has no unique index on ${tableName}${list(cols)}`);
    }

    // @@index: a non-partial index over those columns, in that order.
    for (const idx of dm.indexes.filter((i) => i.model === model.name && i.type === 'normal')) {
      const fieldNames = idx.fields.map((x) => x.name);
      const cols = columnsOf(model, fieldNames);
      const found = table.indexes.some((i) => !i.partial && !i.hasExpressions && sameOrdered(i.columns, cols));
      if (!found) problems.push(`model ${model.name}: @@index([${fieldNames.join(', ')}]) has no index on ${tableName}${list(cols)}`);
    }

    // Relations: the side holding `fields:` owns the foreign key.
    for (const rel of model.fields.filter((f) => f.kind === 'object' && (f.relationFromFields?.length ?? 0) > 0)) {
      const target = dm.models.find((m) => m.name === rel.type);
      if (!target) {
        problems.push(`${model.name}.${rel.name}: related model ${rel.type} not found`);
        continue;
      }
      const cols = columnsOf(model, rel.relationFromFields ?? []);
      const refCols = columnsOf(target, rel.relationToFields ?? []);
      const label = `${model.name}.${rel.name}: foreign key ${tableName}${list(cols)} -> ${tableOf(target)}${list(refCols)}`;
      const fk = table.foreignKeys.find(
        (k) => k.refTable === tableOf(target) && sameOrdered(k.columns, cols) && sameOrdered(k.refColumns, refCols),
      );
      const known = expectedForeignKeys.get(tableName) ?? [];
      known.push({ table: tableOf(target), columns: cols });
      expectedForeignKeys.set(tableName, known);
      if (!fk) {
        problems.push(`${label} does not exist`);
        continue;
      }
      // Prisma's defaults: onDelete Restrict when the relation is required, else SetNull; onUpdate Cascade.
      const wantDelete = rel.relationOnDelete ?? (rel.isRequired ? 'Restrict' : 'SetNull');
      const wantUpdate = rel.relationOnUpdate ?? 'Cascade';
      if (fk.onDelete !== wantDelete) problems.push(`${label} is ON DELETE ${fk.onDelete}; schema says ${wantDelete}`);
      if (fk.onUpdate !== wantUpdate) problems.push(`${label} is ON UPDATE ${fk.onUpdate}; schema says ${wantUpdate}`);
    }
  }

  // Reverse direction: nothing in the database the schema does not know about.
  for (const table of db.values()) {
    if (NON_MODEL_TABLES.has(table.name)) continue;
    const model = modelsByTable.get(table.name);
    if (!model) {
      problems.push(`table ${table.name} has no model in schema.prisma`);
      continue;
    }
    const fieldColumns = new Set(scalarFields(model).map(columnOf));
    for (const col of table.columns.keys()) {
      if (!fieldColumns.has(col)) problems.push(`column ${table.name}.${col} has no field in model ${model.name}`);
    }
    const wanted = expectedForeignKeys.get(table.name) ?? [];
    for (const fk of table.foreignKeys) {
      if (!wanted.some((w) => w.table === fk.refTable && sameOrdered(w.columns, fk.columns))) {
        problems.push(
          `foreign key ${fk.name} ${table.name}${list(fk.columns)} -> ${fk.refTable}${list(fk.refColumns)} has no relation in model ${model.name}`,
        );
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------- the tests

describe('schema.prisma and the migrated database', () => {
  const schemaText = fs.readFileSync(SCHEMA_PATH, 'utf8');
  let db: DbSchema;
  let migrationRows: { migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }[];

  beforeAll(async () => {
    // The read-only reporting role: it reads every table, _prisma_migrations included.
    const client = new Client({ connectionString: testConfig().databaseReader.url });
    await client.connect();
    try {
      db = await readDatabase(client);
      ({ rows: migrationRows } = await client.query(
        'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name',
      ));
    } finally {
      await client.end();
    }
  });

  test('the introspection sees the tables (guards against reading the wrong database)', () => {
    expect(db.size).toBeGreaterThan(1);
    expect(db.has('_prisma_migrations')).toBe(true);
  });

  test('every model, field, key, index and relation matches the database, and nothing more', () => {
    const dm = loadDatamodel(schemaText);
    expect(dm.models.length).toBeGreaterThan(0);
    expect(compareSchemaWithDatabase(dm, db)).toEqual([]);
  });

  test('_prisma_migrations records each migration directory once, finished, with its checksum', () => {
    const problems: string[] = [];
    const migrations = readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    const live = migrationRows.filter((r) => r.rolled_back_at === null);
    for (const m of migrations) {
      const rows = live.filter((r) => r.migration_name === m.name);
      if (rows.length !== 1) {
        problems.push(`migration ${m.name}: ${rows.length} applied (not rolled back) rows; expected 1`);
        continue;
      }
      const [row] = rows as [(typeof rows)[number]];
      if (row.finished_at === null) problems.push(`migration ${m.name}: started but never finished`);
      if (row.checksum !== m.checksum) {
        problems.push(`migration ${m.name}: recorded checksum ${row.checksum} differs from the file's ${m.checksum}`);
      }
    }
    const names = new Set(migrations.map((m) => m.name));
    for (const r of live) {
      if (!names.has(r.migration_name)) problems.push(`migration ${r.migration_name} is applied but has no directory`);
    }
    expect(problems).toEqual([]);
  });

  // The checker must be able to fail: each edit below makes the schema disagree with the
  // database in one way, and the comparison must say so, naming what differs.
  const mutations: { what: string; from: string | RegExp; to: string; also?: [RegExp, string]; mentions: string[] }[] = [
    {
      what: 'a field with no column',
      from: /(model Product \{\n)/,
      to: '$1  bogus          String\n',
      mentions: ['Product.bogus', 'products.bogus', 'does not exist'],
    },
    {
      what: 'a field type the column does not have',
      from: /(model OrderItem \{[^}]*?\bquantity\s+)Int\b/,
      to: '$1BigInt',
      mentions: ['OrderItem.quantity', 'bigint', 'integer'],
    },
    {
      what: 'a native type the column does not have',
      from: /(model Account \{[^}]*?\bcurrency\s+String\s+)@db\.Char\(3\)/,
      to: '$1@db.VarChar(3)',
      mentions: ['Account.currency', 'character varying(3)', 'character(3)'],
    },
    {
      what: 'a required field over a nullable column',
      from: /(model OrderStatusHistory \{[^}]*?\bdetail\s+)String\?/,
      to: '$1String',
      mentions: ['OrderStatusHistory.detail', 'required', 'nullable'],
    },
    {
      what: 'a different timestamp precision',
      from: /(model IdempotencyKey \{[^}]*?\bexpiresAt\s+DateTime\s+@map\("expires_at"\)\s+)@db\.Timestamptz\(3\)/,
      to: '$1@db.Timestamptz(6)',
      mentions: ['IdempotencyKey.expiresAt', 'timestamp(6) with time zone'],
    },
    {
      what: 'a column the schema does not know',
      from: /(model OutboxEvent \{[^}]*?)\n\s+traceparent\s+String\?[^\n]*/,
      to: '$1',
      mentions: ['outbox_events.traceparent', 'has no field'],
    },
    {
      what: 'a table with no model',
      from: /model OutboxSequence \{[^}]*\}\n/,
      to: '',
      mentions: ['outbox_sequences', 'has no model'],
    },
    {
      what: 'a different composite primary key order',
      from: '@@id([consumerGroup, eventId])',
      to: '@@id([eventId, consumerGroup])',
      mentions: ['ProcessedEvent', 'primary key', '(event_id, consumer_group)'],
    },
    {
      what: 'a unique constraint the database lacks',
      from: '@@unique([aggregateId, sequence])',
      to: '@@unique([aggregateId, type])',
      mentions: ['OutboxEvent', '@@unique([aggregateId, type])'],
    },
    {
      what: 'an index the database lacks',
      from: /(model OrderItem \{[^}]*?)(\n\s+@@id)/,
      to: '$1\n  @@index([sku])$2',
      mentions: ['OrderItem', '@@index([sku])', 'order_items(sku)'],
    },
    {
      what: 'a different referential action',
      from: /(model OrderItem \{[^}]*?\border\s+Order\s+@relation\([^)]*onDelete: )Restrict\b/,
      to: '$1Cascade',
      mentions: ['OrderItem.order', 'ON DELETE Restrict', 'Cascade'],
    },
    {
      what: 'a missing default',
      from: /(model Product \{[^}]*?\bavailable\s+Int\s+)@default\(0\)/,
      to: '$1',
      mentions: ['Product.available', 'default'],
    },
    {
      what: 'a relation with no foreign key',
      from: /(model IdempotencyKey \{[^}]*?)(\n\s+@@id)/,
      to: '$1\n  apiKey ApiKey @relation(fields: [apiKeyId], references: [id])$2',
      also: [/(model ApiKey \{[^}]*?)(\n\s+@@map)/, '$1\n  idempotencyKeys IdempotencyKey[]$2'],
      mentions: ['IdempotencyKey.apiKey', 'idempotency_keys(api_key_id) -> api_keys(id)', 'does not exist'],
    },
    {
      what: 'a foreign key with no relation',
      from: /(model OrderItem \{[^}]*?)\n\s+order\s+Order\s+@relation\([^\n]*/,
      to: '$1',
      also: [/(model Order \{[^}]*?)\n\s+items\s+OrderItem\[\][^\n]*/, '$1'],
      mentions: ['order_items(order_id) -> orders(id)', 'has no relation in model OrderItem'],
    },
  ];

  test.each(mutations)('the checker catches $what', ({ from, to, also, mentions }) => {
    let mutated = schemaText.replace(from, to);
    expect(mutated).not.toBe(schemaText); // the edit applied, so this test is not vacuous
    if (also) {
      const before = mutated;
      mutated = mutated.replace(also[0], also[1]);
      expect(mutated).not.toBe(before);
    }
    const problems = compareSchemaWithDatabase(loadDatamodel(mutated), db);
    expect(problems.length).toBeGreaterThan(0);
    const text = problems.join('\n');
    for (const m of mentions) expect(text).toContain(m);
  });
});

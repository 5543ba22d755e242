/**
 * The statement builder of lib/sql.ts: values become $n parameters, and a fragment given as a
 * value is spliced in with its parameters renumbered (how the outbox writer's CTEs compose).
 */
import { prepared, sql, SqlFragment } from '../../lib/sql';

describe('sql', () => {
  test('each value becomes the next $n, in order', () => {
    const s = sql`SELECT ${1}::int, ${'a'}::text WHERE x = ${2}`;
    expect({ text: s.text, values: s.values }).toEqual({ text: 'SELECT $1::int, $2::text WHERE x = $3', values: [1, 'a', 2] });
  });

  test('a fragment is spliced in, its parameters renumbered after the ones before it', () => {
    const inner = sql`SELECT ${'x'}::text AS a, ${'y'}::text AS b`;
    const outer = sql`WITH f AS (${inner}) SELECT ${10}::int, a FROM f WHERE b = ${'z'} AND ${inner} IS NOT NULL`;
    expect(outer).toBeInstanceOf(SqlFragment);
    expect(outer.text).toBe(
      'WITH f AS (SELECT $1::text AS a, $2::text AS b) SELECT $3::int, a FROM f WHERE b = $4 AND SELECT $5::text AS a, $6::text AS b IS NOT NULL',
    );
    expect(outer.values).toEqual(['x', 'y', 10, 'z', 'x', 'y']);
  });

  test('fragments nest, and $10 and beyond are renumbered whole', () => {
    const many = sql`${1}${2}${3}${4}${5}${6}${7}${8}${9}${10}${11}`;
    const outer = sql`${0} ${sql`(${many})`}`;
    expect(outer.text).toBe('$1 ($2$3$4$5$6$7$8$9$10$11$12)');
    expect(outer.values).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test('a plain object value is a parameter, not a fragment', () => {
    const s = sql`SELECT ${{ text: 'DROP TABLE x', values: [] }}`;
    expect(s.text).toBe('SELECT $1');
    expect(s.values).toEqual([{ text: 'DROP TABLE x', values: [] }]);
  });

  test('a prepared statement is named by its text alone: the same text with other values shares the name, another text does not', () => {
    const a = prepared(sql`SELECT ${1}::int`);
    const b = prepared(sql`SELECT ${2}::int`);
    const c = prepared(sql`SELECT ${1}::bigint`);
    expect(a.name).toMatch(/^os_[0-9a-f]{24}$/);
    expect(b.name).toBe(a.name);
    expect(b.values).toEqual([2]);
    expect(c.name).not.toBe(a.name);
  });
});

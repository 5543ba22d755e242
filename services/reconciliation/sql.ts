/** Named parameters (`:name`) for the enumeration queries, turned into only the $n they use. */
export function named(sql: string, values: Record<string, unknown>): { text: string; values: unknown[] } {
  const order: string[] = [];
  // `::type` casts are left alone: a name follows a single colon only.
  const text = sql.replace(/(?<!:):([a-z][A-Za-z0-9]*)/g, (_m, name: string) => {
    if (!(name in values)) throw new Error(`no value for :${name}`);
    let i = order.indexOf(name);
    if (i < 0) i = order.push(name) - 1;
    return `$${i + 1}`;
  });
  return { text, values: order.map((n) => values[n]) };
}

/**
 * Demo data for `npm start`: products with stock and prices, customer accounts with balances
 * (as ledger deposits) and demo API keys. Each record is created only if missing (a product
 * is never restocked, a deposit never repeated), so every start may run it. The keys' secrets
 * are kept in the git-ignored stack directory so every start can print them again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadStackConfig, type StackConfig } from './stack/config';
import { closeDb, createDb, inTransaction, type Db } from '../lib/db';
import { createApiKey } from '../services/access/api-keys';
import { upsertProduct } from '../services/catalog/products';
import { openAndDeposit } from '../services/payments/accounts';

const PRODUCTS = [
  { sku: 'TSHIRT-BLUE-M', name: 'T-shirt, blue, M', unitPriceMinor: 1999, currency: 'EUR', addStock: 100 },
  { sku: 'MUG-LOGO', name: 'Mug with logo', unitPriceMinor: 1250, currency: 'EUR', addStock: 50 },
  { sku: 'POSTER-A2', name: 'Poster A2', unitPriceMinor: 899, currency: 'EUR', addStock: 200 },
  { sku: 'SNEAKER-LTD', name: 'Limited sneaker', unitPriceMinor: 14900, currency: 'EUR', addStock: 3 },
];
const CUSTOMERS = [
  { customerId: 'alice', currency: 'EUR', depositMinor: 50_000 },
  { customerId: 'bob', currency: 'EUR', depositMinor: 10_000 },
  { customerId: 'carol', currency: 'EUR', depositMinor: 500 },
];

export interface DemoKeys {
  client: string;
  admin: string;
}

async function demoKey(db: Db, cfg: StackConfig, role: 'client' | 'admin'): Promise<string> {
  const file = path.join(cfg.stack.dir, `demo-${role}.key`);
  if (fs.existsSync(file)) {
    const saved = fs.readFileSync(file, 'utf8').trim();
    const [id] = saved.split('\n');
    const row = id ? await db.apiKey.findUnique({ where: { id } }) : null;
    if (row && !row.revokedAt) return saved.split('\n')[1]!;
  }
  // The demo client acts for the demo customers (and only them).
  const created = await createApiKey(db, `demo-${role}`, role, role === 'client' ? CUSTOMERS.map((c) => c.customerId) : []);
  fs.mkdirSync(cfg.stack.dir, { recursive: true });
  fs.writeFileSync(file, `${created.id}\n${created.key}\n`, { mode: 0o600 });
  return created.key;
}

export async function seedDemoData(db: Db, cfg: StackConfig): Promise<{ seeded: boolean; keys: DemoKeys }> {
  const seeded = await inTransaction(db, async (tx) => {
    let created = false;
    for (const p of PRODUCTS) {
      if ((await tx.rows`SELECT 1 FROM products WHERE sku = ${p.sku}::text`).length > 0) continue;
      await upsertProduct(tx, p);
      created = true;
    }
    for (const c of CUSTOMERS) created = (await openAndDeposit(tx, { ...c, idempotencyKey: `seed:${c.customerId}` })).created || created;
    return created;
  });
  return { seeded, keys: { client: await demoKey(db, cfg, 'client'), admin: await demoKey(db, cfg, 'admin') } };
}

if (require.main === module) {
  const cfg = loadStackConfig();
  const db = createDb(cfg.database.url, 2);
  seedDemoData(db, cfg)
    .then(({ seeded, keys }) => {
      console.log(seeded ? 'seeded demo products and customers' : 'demo data already present');
      console.log(`demo client API key: ${keys.client}\ndemo admin API key:  ${keys.admin}`);
    })
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    })
    .finally(() => void closeDb(db));
}

/** The catalog: create a product, or update its name/price and restock it. */
import type { Tx } from '../../lib/db';

export class ProductCurrencyError extends Error {
  override name = 'ProductCurrencyError';
}

export interface ProductInput {
  sku: string;
  name: string;
  unitPriceMinor: number;
  currency: string;
  addStock: number;
}

/** Upserts in the caller's transaction; returns whether the product was created. */
export async function upsertProduct(tx: Tx, input: ProductInput): Promise<{ created: boolean }> {
  // Insert-or-nothing first, so two concurrent creators of one sku cannot both insert.
  const inserted = await tx.$executeRaw`
    INSERT INTO products (sku, name, unit_price_minor, currency, available)
    VALUES (${input.sku}, ${input.name}, ${input.unitPriceMinor}, ${input.currency}, ${input.addStock})
    ON CONFLICT (sku) DO NOTHING`;
  if (inserted === 1) {
    await recordStockReceived(tx, input);
    return { created: true };
  }
  const existing = await tx.$queryRaw<{ currency: string }[]>`SELECT currency FROM products WHERE sku = ${input.sku} FOR UPDATE`;
  if (existing[0]!.currency !== input.currency) {
    throw new ProductCurrencyError(`product ${input.sku} is priced in ${existing[0]!.currency}; its currency cannot change`);
  }
  await tx.$executeRaw`
    UPDATE products SET name = ${input.name}, unit_price_minor = ${input.unitPriceMinor}, available = available + ${input.addStock}, updated_at = now()
    WHERE sku = ${input.sku}`;
  await recordStockReceived(tx, input);
  return { created: false };
}

/** The stock journal (reconciliation proves stock is conserved against it), same transaction. */
async function recordStockReceived(tx: Tx, input: ProductInput): Promise<void> {
  if (input.addStock === 0) return;
  await tx.$executeRaw`INSERT INTO stock_movements (sku, quantity, kind) VALUES (${input.sku}, ${input.addStock}, 'RECEIVED')`;
}

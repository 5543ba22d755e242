/** The catalog: create a product, or update its name/price and restock it; the product view. */
import type { Db } from '../../lib/db';
import { DomainError } from '../../lib/errors';
import type { Tx } from '../../lib/sql';
import { CATALOG_ERRORS, type ProductInput, type ProductView } from './contract';

const NUMERIC_OUT_OF_RANGE = '22003';

interface ProductRow {
  sku: string;
  name: string;
  unit_price_minor: bigint;
  currency: string;
  available: number;
  reserved: number;
  committed: number;
}

function toView(p: ProductRow): ProductView {
  const { sku, name, currency, available, reserved, committed } = p;
  return { sku, name, unitPriceMinor: Number(p.unit_price_minor), currency, available, reserved, committed };
}

/** Upserts in the caller's transaction; returns whether the product was created, and the product after. */
export async function upsertProduct(tx: Tx, input: ProductInput): Promise<{ created: boolean; product: ProductView }> {
  // Insert-or-nothing first, so two concurrent creators of one sku cannot both insert.
  const [inserted] = await tx.rows<ProductRow>`
    INSERT INTO products (sku, name, unit_price_minor, currency, available)
    VALUES (${input.sku}::text, ${input.name}::text, ${input.unitPriceMinor}::bigint, ${input.currency}::text, ${input.addStock}::int)
    ON CONFLICT (sku) DO NOTHING
    RETURNING sku, name, unit_price_minor, currency, available, reserved, committed`;
  if (inserted) {
    await recordStockReceived(tx, input);
    return { created: true, product: toView(inserted) };
  }
  const [existing] = await tx.rows<{ currency: string }>`SELECT currency FROM products WHERE sku = ${input.sku}::text FOR UPDATE`;
  if (existing!.currency !== input.currency) {
    throw new DomainError('CURRENCY_MISMATCH', `product ${input.sku} is priced in ${existing!.currency}; its currency cannot change`);
  }
  const [updated] = await tx.rows<ProductRow>`
    UPDATE products SET name = ${input.name}::text, unit_price_minor = ${input.unitPriceMinor}::bigint,
           available = available + ${input.addStock}::int, updated_at = now()
    WHERE sku = ${input.sku}::text
    RETURNING sku, name, unit_price_minor, currency, available, reserved, committed`.catch((err: unknown) => {
    if ((err as { code?: string }).code !== NUMERIC_OUT_OF_RANGE) throw err;
    throw new DomainError(CATALOG_ERRORS.STOCK_OUT_OF_RANGE, `product ${input.sku} cannot hold ${input.addStock} more units`, {
      cause: err,
    });
  });
  await recordStockReceived(tx, input);
  return { created: false, product: toView(updated!) };
}

/** The stock journal (reconciliation proves stock is conserved against it), same transaction. */
async function recordStockReceived(tx: Tx, input: ProductInput): Promise<void> {
  if (input.addStock === 0) return;
  await tx.exec`INSERT INTO stock_movements (sku, quantity, kind) VALUES (${input.sku}::text, ${input.addStock}::int, 'RECEIVED')`;
}

export async function findProductView(db: Db, sku: string): Promise<ProductView | null> {
  const p = await db.product.findUnique({ where: { sku } });
  if (!p) return null;
  const { name, currency, available, reserved, committed } = p;
  return { sku: p.sku, name, unitPriceMinor: Number(p.unitPriceMinor), currency, available, reserved, committed };
}

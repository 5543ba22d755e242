/** The catalog context's public contract. */
import type { ErrorKind } from '../../lib/errors';

/** The catalog's refusals; a product's currency is fixed once it exists (CURRENCY_MISMATCH, lib/errors.ts). */
export const CATALOG_ERRORS = {
  /** Stock counters are 32-bit: more than 2,147,483,647 units of one product cannot be held. */
  STOCK_OUT_OF_RANGE: {
    code: 'STOCK_OUT_OF_RANGE',
    status: 422,
    retryable: false,
    title: 'Stock out of range',
    when: 'adding the stock would take the product past 2,147,483,647 units',
    action: 'add less stock',
  },
} as const satisfies Record<string, ErrorKind>;

export interface ProductInput {
  sku: string;
  name: string;
  unitPriceMinor: number;
  currency: string;
  addStock: number;
}

export interface ProductView {
  sku: string;
  name: string;
  unitPriceMinor: number;
  currency: string;
  available: number;
  reserved: number;
  committed: number;
}

/** The catalog context's public contract. */
import type { ErrorKind } from '../../lib/errors';

export const CATALOG_ERRORS = {
  /** A product's currency is fixed once it exists. */
  CURRENCY_MISMATCH: { code: 'CURRENCY_MISMATCH', status: 422, retryable: false, title: 'Currency cannot change' },
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

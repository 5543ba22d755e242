/** How the console writes amounts and times. */

const digitsCache = new Map<string, number>();

/** The minor-unit exponent of an ISO 4217 currency (EUR 2, JPY 0, KWD 3), as Intl knows it. */
export function minorDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    digitsCache.set(currency, d);
  }
  return d;
}

/**
 * Integer minor units as an amount in its currency ("€12.50", "-€3.00", "¥1,200"). Exact: the
 * integer is split into units and fraction as text, never divided as a float.
 */
export function formatMoney(minor: number | bigint, currency: string): string {
  const digits = minorDigits(currency);
  const n = BigInt(minor);
  const negative = n < 0n;
  const abs = (negative ? -n : n).toString().padStart(digits + 1, '0');
  const units = abs.slice(0, abs.length - digits);
  const fraction = digits ? abs.slice(abs.length - digits) : '';
  let fmt: Intl.NumberFormat;
  try {
    fmt = new Intl.NumberFormat('en', { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
  } catch {
    return `${negative ? '-' : ''}${units}${digits ? `.${fraction}` : ''} ${currency}`;
  }
  // Format 0 for the symbol's place and the grouping of the units, then put the exact digits in.
  const parts = fmt.formatToParts(0);
  const grouped = BigInt(units).toLocaleString('en');
  const text = parts
    .map((p) => (p.type === 'integer' ? grouped : p.type === 'fraction' ? fraction : p.value))
    .filter((_, i) => !(parts[i]!.type === 'integer' && i > 0 && parts[i - 1]!.type === 'integer'))
    .join('');
  return negative ? `-${text}` : text;
}

/** An ISO timestamp as the console shows it (UTC, to the second). */
export function formatTime(iso: string | Date | null | undefined): string {
  if (!iso) return '—';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A duration in seconds, in the largest sensible unit. */
export function formatAge(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

/**
 * A payments row read back says only what its status guarantees (the table's CHECK
 * constraints): a FAILED row its stored reason, a charged row its transaction. A row that
 * breaks that is an internal error, never a made-up business failure.
 */
import { parsePayment, PaymentRowInvalidError, type PaymentRow } from '../../services/payments/charges';

const ORDER = '00000000-0000-4000-8000-00000000000a';
const TX = '00000000-0000-4000-8000-00000000000b';
const row = (over: Partial<PaymentRow>): PaymentRow => ({
  status: 'CAPTURED',
  customer_id: 'cust-1',
  amount_minor: 500n,
  currency: 'EUR',
  failure_reason: null,
  charge_tx_id: TX,
  refund_tx_id: null,
  ...over,
});

test('when a FAILED row has its reason, then the reason is what it says', () => {
  expect(parsePayment(ORDER, row({ status: 'FAILED', failure_reason: 'CURRENCY_MISMATCH', charge_tx_id: null }))).toEqual({
    status: 'FAILED',
    reason: 'CURRENCY_MISMATCH',
  });
});

test('when a charged row names its transaction (or charged zero), then it is read as charged', () => {
  expect(parsePayment(ORDER, row({}))).toMatchObject({ status: 'CAPTURED', amountMinor: 500, chargeTxId: TX });
  expect(parsePayment(ORDER, row({ amount_minor: 0n, charge_tx_id: null }))).toMatchObject({ status: 'CAPTURED', chargeTxId: null });
  expect(parsePayment(ORDER, row({ status: 'VOIDED', customer_id: null, amount_minor: null, currency: null, charge_tx_id: null }))).toEqual(
    {
      status: 'VOIDED',
    },
  );
});

test.each([
  ['a FAILED row without a reason', row({ status: 'FAILED', charge_tx_id: null })],
  ['a FAILED row with a reason no charge gives', row({ status: 'FAILED', failure_reason: 'SOMETHING_ELSE', charge_tx_id: null })],
  ['a CAPTURED row of money without its transaction', row({ charge_tx_id: null })],
  ['a REFUNDED row without its customer', row({ status: 'REFUNDED', customer_id: null })],
  ['a row of an unknown status', row({ status: 'PENDING' })],
])('when %s is read, then it is an internal error, not a business failure', (_what, bad) => {
  expect(() => parsePayment(ORDER, bad)).toThrow(PaymentRowInvalidError);
});

/**
 * A forward step still running (or not yet started) when its compensation runs: after a
 * workflow cancel, or an attempt that outlived its start-to-close timeout. The release and
 * the refund leave a durable mark on the forward step's own key, so a late reserve or charge
 * waits for them and then fails, instead of committing stock or money nobody will undo.
 * Transactions are held open at fault points by gates the test opens, never by sleeps.
 * Also the honest contracts: an unknown sku is UNKNOWN_SKU (not OUT_OF_STOCK), a payment row
 * always carries what its status needs, and a charge of zero says it has no transaction.
 */
import crypto from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Pool } from 'pg';
import { createInventoryActivities } from '../../activities/inventory';
import { createOrderActivities } from '../../activities/orders';
import { createPaymentActivities } from '../../activities/payment';
import { loadConfig } from '../../lib/config';
import { closeDb, createDb, type Db } from '../../lib/db';
import { InjectedFault, type FaultPoint, type Faults } from '../../lib/faults';
import { createOrder, priceOrder } from '../../services/orders/place-order';
import { merchantAccountId } from '../../services/payments/contract';
import {
  balance,
  createCustomer,
  createOrderRow,
  createProduct,
  ledgerTransactionsOf,
  outboxOf,
  productStock,
  TEST_API_KEY_ID,
} from '../support/fixtures';
import { eventually } from '../support/wait';

const cfg = loadConfig();
let db: Db;
let owner: Pool;
/** The app's own role: it may see the query text of its other sessions in pg_stat_activity. */
let app: Pool;

beforeAll(() => {
  db = createDb(cfg.database.url, { poolSize: 6 });
  owner = new Pool({ connectionString: cfg.databaseOwner.url, max: 2 });
  app = new Pool({ connectionString: cfg.database.url, max: 1 });
});
afterAll(async () => {
  await closeDb(db);
  await owner.end();
  await app.end();
});

/** Holds a transaction at a fault point until the test opens the gate (or makes it fail). */
function gate(point: FaultPoint, orderId: string) {
  let arrived!: () => void;
  let release!: (fail: boolean) => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const opened = new Promise<boolean>((r) => (release = r));
  const faults: Faults = {
    async hit(p, id) {
      if (p !== point || id !== orderId) return;
      arrived();
      if (await opened) throw new InjectedFault(`gate at ${point} failed the transaction`);
    },
  };
  return { faults, reached, open: () => release(false), fail: () => release(true) };
}

/** Some session of the app's role waits on a row lock in a statement containing `marker` (the compensation's claim). */
async function waitingOnLock(marker: string): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await app.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`,
        [marker],
      );
      return rows[0]!.n > 0;
    },
    { timeoutMs: 2500, intervalMs: 20, what: `a compensation waiting on the forward step's row (${marker})` },
  );
}

/** The ApplicationFailure an activity call was rejected with. */
async function failureOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

const reservation = (orderId: string) => db.reservation.findUnique({ where: { orderId }, include: { items: true } });
const payment = (orderId: string) => db.payment.findUnique({ where: { orderId } });
const eventTypes = async (orderId: string) => (await outboxOf(db, orderId)).map((e) => e.type);

describe('release vs reserve', () => {
  test('when a release runs before the reserve, then the later reserve fails RESERVATION_RELEASED and no stock is held', async () => {
    const sku = await createProduct(db, { stock: 5, priceMinor: 100 });
    const orderId = await createOrderRow(db, { customerId: 'cust-marks', items: [{ sku, quantity: 2, unitPriceMinor: 100 }] });
    const inventory = createInventoryActivities({ db });

    expect(await inventory.releaseInventory({ orderId, reason: 'CANCELLED: before the reserve ran' })).toEqual({
      releasedFrom: null,
      applied: true,
    });
    const failure = await failureOf(inventory.reserveInventory({ orderId, items: [{ sku, quantity: 2 }] }));

    expect(failure).toMatchObject({ type: 'RESERVATION_RELEASED', nonRetryable: true });
    expect(await productStock(db, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
    expect(await reservation(orderId)).toMatchObject({ status: 'RELEASED', items: [] });
    expect(await eventTypes(orderId)).toEqual(['InventoryReleased']);
    // A second release finds the mark and does nothing; a commit still refuses it.
    expect(await inventory.releaseInventory({ orderId, reason: 'again' })).toEqual({ releasedFrom: null, applied: false });
    expect(await failureOf(inventory.commitInventory({ orderId }))).toMatchObject({ type: 'RESERVATION_NOT_HELD' });
  });

  test('when a release runs while the reserve transaction is open, then it waits and releases what the reserve committed', async () => {
    const sku = await createProduct(db, { stock: 5, priceMinor: 100 });
    const orderId = await createOrderRow(db, { customerId: 'cust-marks', items: [{ sku, quantity: 3, unitPriceMinor: 100 }] });
    const held = gate('inventory.reserve.beforeCommit', orderId);

    const reserving = createInventoryActivities({ db, faults: held.faults }).reserveInventory({ orderId, items: [{ sku, quantity: 3 }] });
    await held.reached;
    const releasing = createInventoryActivities({ db }).releaseInventory({ orderId, reason: 'CANCELLED: while reserving' });
    await waitingOnLock(`'RELEASED'`);
    held.open();

    await expect(reserving).resolves.toEqual({ applied: true });
    await expect(releasing).resolves.toEqual({ releasedFrom: 'HELD', applied: true });
    expect(await productStock(db, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
    expect(await eventTypes(orderId)).toEqual(['InventoryReserved', 'InventoryReleased']);
  });

  test('when the open reserve rolls back under a waiting release, then the release leaves its mark and the retried reserve fails', async () => {
    const sku = await createProduct(db, { stock: 5, priceMinor: 100 });
    const orderId = await createOrderRow(db, { customerId: 'cust-marks', items: [{ sku, quantity: 3, unitPriceMinor: 100 }] });
    const held = gate('inventory.reserve.beforeCommit', orderId);
    const items = [{ sku, quantity: 3 }];

    const reserving = createInventoryActivities({ db, faults: held.faults }).reserveInventory({ orderId, items });
    await held.reached;
    const releasing = createInventoryActivities({ db }).releaseInventory({ orderId, reason: 'CANCELLED: while reserving' });
    await waitingOnLock(`'RELEASED'`);
    held.fail();

    await expect(reserving).rejects.toBeInstanceOf(InjectedFault);
    await expect(releasing).resolves.toEqual({ releasedFrom: null, applied: true });
    const retry = await failureOf(createInventoryActivities({ db }).reserveInventory({ orderId, items }));
    expect(retry).toMatchObject({ type: 'RESERVATION_RELEASED', nonRetryable: true });
    expect(await productStock(db, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });
});

describe('refund vs charge', () => {
  test('when a refund runs before the charge, then the payment is VOIDED and the later charge fails PAYMENT_VOIDED, moving no money', async () => {
    const customer = await createCustomer(db, { balanceMinor: 10_000 });
    const merchantBefore = await balance(db, merchantAccountId('EUR'));
    const orderId = await createOrderRow(db, { customerId: customer, totalMinor: 2500 });
    const payments = createPaymentActivities({ db });

    expect(await payments.refundPayment({ orderId, reason: 'CANCELLED: before the charge ran' })).toEqual({
      transactionId: null,
      applied: true,
    });
    const failure = await failureOf(payments.chargePayment({ orderId, customerId: customer, amountMinor: 2500, currency: 'EUR' }));

    expect(failure).toMatchObject({ type: 'PAYMENT_VOIDED', nonRetryable: true });
    expect(await payment(orderId)).toMatchObject({ status: 'VOIDED', customerId: null, amountMinor: null, chargeTxId: null });
    expect(await ledgerTransactionsOf(db, orderId)).toEqual([]);
    expect(await balance(db, customer)).toBe(10_000);
    expect(await balance(db, merchantAccountId('EUR'))).toBe(merchantBefore);
    expect(await eventTypes(orderId)).toEqual(['PaymentVoided']);
    expect(await payments.refundPayment({ orderId, reason: 'again' })).toEqual({ transactionId: null, applied: false });
  });

  test('when a refund runs while the charge transaction is open, then it waits and refunds the committed charge', async () => {
    const customer = await createCustomer(db, { balanceMinor: 10_000 });
    const orderId = await createOrderRow(db, { customerId: customer, totalMinor: 2500 });
    const held = gate('payment.charge.beforeCommit', orderId);

    const charging = createPaymentActivities({ db, faults: held.faults }).chargePayment({
      orderId,
      customerId: customer,
      amountMinor: 2500,
      currency: 'EUR',
    });
    await held.reached;
    const refunding = createPaymentActivities({ db }).refundPayment({ orderId, reason: 'CANCELLED: while charging' });
    await waitingOnLock(`'VOIDED'`);
    held.open();

    const charged = await charging;
    const refunded = await refunding;
    expect(refunded).toEqual({ transactionId: expect.any(String), applied: true });
    expect(await payment(orderId)).toMatchObject({
      status: 'REFUNDED',
      chargeTxId: charged.transactionId,
      refundTxId: refunded.transactionId,
    });
    expect((await ledgerTransactionsOf(db, orderId)).map((t) => t.kind).sort()).toEqual(['CHARGE', 'REFUND']);
    expect(await balance(db, customer)).toBe(10_000);
    expect(await eventTypes(orderId)).toEqual(['PaymentCaptured', 'PaymentRefunded']);
  });

  test('when the open charge rolls back under a waiting refund, then the refund voids the payment and the retried charge fails', async () => {
    const customer = await createCustomer(db, { balanceMinor: 10_000 });
    const orderId = await createOrderRow(db, { customerId: customer, totalMinor: 2500 });
    const held = gate('payment.charge.beforeCommit', orderId);
    const input = { orderId, customerId: customer, amountMinor: 2500, currency: 'EUR' };

    const charging = createPaymentActivities({ db, faults: held.faults }).chargePayment(input);
    await held.reached;
    const refunding = createPaymentActivities({ db }).refundPayment({ orderId, reason: 'CANCELLED: while charging' });
    await waitingOnLock(`'VOIDED'`);
    held.fail();

    await expect(charging).rejects.toBeInstanceOf(InjectedFault);
    await expect(refunding).resolves.toEqual({ transactionId: null, applied: true });
    expect(await failureOf(createPaymentActivities({ db }).chargePayment(input))).toMatchObject({
      type: 'PAYMENT_VOIDED',
      nonRetryable: true,
    });
    expect(await ledgerTransactionsOf(db, orderId)).toEqual([]);
    expect(await balance(db, customer)).toBe(10_000);
  });
});

describe('honest contracts', () => {
  test('when a reserve names a sku with no product, then it fails UNKNOWN_SKU (not OUT_OF_STOCK) and holds nothing', async () => {
    const sku = await createProduct(db, { stock: 5, priceMinor: 100 });
    const missing = `SKU-missing-${crypto.randomUUID().slice(0, 8)}`;
    const orderId = await createOrderRow(db, {
      customerId: 'cust-marks',
      items: [
        { sku, quantity: 1, unitPriceMinor: 100 },
        { sku: missing, quantity: 1, unitPriceMinor: 100 },
      ],
    });

    const failure = await failureOf(
      createInventoryActivities({ db }).reserveInventory({
        orderId,
        items: [
          { sku, quantity: 1 },
          { sku: missing, quantity: 1 },
        ],
      }),
    );

    expect(failure).toMatchObject({ type: 'UNKNOWN_SKU', nonRetryable: true, details: [{ skus: [missing] }] });
    expect(await reservation(orderId)).toBeNull();
    expect(await productStock(db, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
    expect(await eventTypes(orderId)).toEqual([]);
  });

  test('when a charge is retried after a refusal, then it answers the stored reason, not an invented one', async () => {
    const customerId = `cust-none-${crypto.randomUUID()}`;
    const orderId = await createOrderRow(db, { customerId, totalMinor: 100 });
    const input = { orderId, customerId, amountMinor: 100, currency: 'EUR' };
    const payments = createPaymentActivities({ db });

    expect(await failureOf(payments.chargePayment(input))).toMatchObject({ type: 'ACCOUNT_NOT_FOUND' });
    expect(await failureOf(payments.chargePayment(input))).toMatchObject({ type: 'ACCOUNT_NOT_FOUND', nonRetryable: true });
  });

  test('when the order total is zero, then the charge and its refund say they have no ledger transaction (not an empty id)', async () => {
    const customer = await createCustomer(db, { balanceMinor: 100 });
    const orderId = await createOrderRow(db, { customerId: customer, totalMinor: 0 });
    const payments = createPaymentActivities({ db });
    const input = { orderId, customerId: customer, amountMinor: 0, currency: 'EUR' };

    expect(await payments.chargePayment(input)).toEqual({ transactionId: null, applied: true });
    expect(await payments.chargePayment(input)).toEqual({ transactionId: null, applied: false });
    expect(await payments.refundPayment({ orderId, reason: 'test' })).toEqual({ transactionId: null, applied: true });
    expect(await payment(orderId)).toMatchObject({ status: 'REFUNDED', chargeTxId: null, refundTxId: null });
  });

  test.each([
    ['a FAILED payment without a reason', `'FAILED', NULL, NULL, 100`],
    ['a CAPTURED payment of money without its charge transaction', `'CAPTURED', NULL, NULL, 100`],
    ['a REFUNDED payment without its refund transaction', `'REFUNDED', NULL, gen_random_uuid(), 100`],
    ['a CAPTURED payment without its amount', `'CAPTURED', NULL, gen_random_uuid(), NULL`],
  ])('when even the database owner writes %s, then the database refuses it', async (_what, values) => {
    const attempt = owner.query(
      `INSERT INTO payments (order_id, customer_id, currency, status, failure_reason, charge_tx_id, amount_minor)
       VALUES (gen_random_uuid(), 'cust-x', 'EUR', ${values})`,
    );
    await expect(attempt).rejects.toMatchObject({ code: '23514' });
  });
});

describe('a value the database cannot store', () => {
  test('when a transition carries a NUL in its detail, then transitionOrder fails at once non-retryable (DATABASE_DATA_ERROR) and records nothing', async () => {
    const sku = await createProduct(db, { stock: 5, priceMinor: 100 });
    const customerId = await createCustomer(db, { balanceMinor: 1000 });
    const cmd = { apiKeyId: TEST_API_KEY_ID, customerId, items: [{ sku, quantity: 1 }] };
    const order = await createOrder(db, cmd, await priceOrder(db, cmd));
    const history = await db.orderStatusHistory.count({ where: { orderId: order.id } });
    const attempt = createOrderActivities({ db }).transitionOrder({
      orderId: order.id,
      transitionKey: '1:compensation:STARTED',
      step: 'compensation',
      stepStatus: 'STARTED',
      orderStatus: 'COMPENSATING',
      failureReason: 'CANCELLED',
      detail: 'x \u0000',
    });
    const failure = await attempt.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'DATABASE_DATA_ERROR', nonRetryable: true, details: [{ sqlstate: '22021' }] });
    expect((await db.order.findUniqueOrThrow({ where: { id: order.id } })).status).toBe('PENDING');
    expect(await db.orderStatusHistory.count({ where: { orderId: order.id } })).toBe(history);
    expect((await outboxOf(db, order.id)).map((e) => e.type)).toEqual(['OrderCreated']);
  });
});

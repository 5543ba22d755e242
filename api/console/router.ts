/**
 * /console: the operator console, server-rendered HTML usable without JavaScript. Every page
 * reads through the services' own read models and every action calls the same service the
 * REST route calls, behind the same permission check (requirePermission) and rate limits.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { h, type ComponentChildren } from 'preact';
import type { z } from 'zod';
import { inTransaction } from '../../lib/db';
import { authenticate, createApiKey, listApiKeys, mayActFor, revokeApiKey, setGrants, findApiKey } from '../../services/access/api-keys';
import { closeSession, openSession, registerPerson, signInRefusal } from '../../services/access/console-sessions';
import { LOGIN_COOKIE, OidcLogin, personPrincipal, SignInRefused, type SignedInPerson } from '../../services/access/oidc-login';
import { IdentityUnavailable } from '../../services/access/tokens';
import type { Permission } from '../../services/access/permissions';
import { AUDIT_CONSUMER } from '../../services/audit/projector';
import { findOrderReservation } from '../../services/inventory/queries';
import { NOTIFICATIONS_CONSUMER } from '../../services/notifications/consumer';
import { requestCompensation } from '../../services/orders/commands';
import { ORDER_STATUSES, orderLogFields, type OrderStatus } from '../../services/orders/contract';
import {
  compensationWindow,
  countByStatus,
  findOrderView,
  IN_FLIGHT_STATUSES,
  ordersInStatus,
  searchOrders,
} from '../../services/orders/queries';
import { findSagaView } from '../../services/orders/saga-view';
import { findOrderMoney } from '../../services/payments/accounts';
import { getDeadLetter, listDeadLetters, replayDeadLetter } from '../../services/platform/dlq/dead-letters';
import { consumerLag } from '../../services/platform/messaging/lag';
import { eventsOfAggregate, outboxBacklog } from '../../services/platform/outbox/queries';
import { actorOf, AUDIT_ACTIONS, listAudit, personActor, recordAudit, recordAuditAlone } from '../../services/platform/audit-log/audit-log';
import { auditBy } from '../audit';
import { listFindings, requestRun } from '../../services/reconciliation/queries';
import { anonymousLimit, requirePermission } from '../auth';
import type { ApiDeps } from '../deps';
import { pathParam, uuidParam } from '../http';
import { problemFor, problems, type Problem } from '../problem';
import { clientAddress, tooManyRequests, type RateLimits } from '../rate-limit';
import { ApiKeyBody, AuditQuery, fieldErrors, GrantsBody, ReasonBody } from '../schemas';
import { CONSOLE_CSS } from './assets';
import { renderPage, type Viewer } from './layout';
import { OrderPage, type OrderData } from './pages/order';
import { Orders, type OrdersQuery } from './pages/orders';
import { ApiKeys, AuditLog, DeadLetters, Findings } from './pages/lists';
import { Confirm, ErrorPage, Result, SignIn } from './pages/forms';
import { Overview } from './pages/overview';
import { SEARCHED_STATUSES, temporalUiLinks } from './temporal-ui';
import {
  consoleHeaders,
  cookies,
  randomToken,
  requireSession,
  sameOrigin,
  sessionOf,
  sessionSettings,
  setCookie,
  SESSION_COOKIE,
  SIGN_IN_COOKIE,
  SignInRequired,
  viewerOf,
} from './session';

const PAGE_SIZE = 50;
const SIGN_IN_COOKIE_MS = 30 * 60 * 1000;
const DEAD_LETTER_ID = /^\d{1,19}$/;

function html(res: Response, status: number, body: string): void {
  res.status(status).type('html').send(body);
}

/** A page for a signed-in viewer. */
function page(res: Response, title: string, current: string, children: ComponentChildren, status = 200): void {
  html(res, status, renderPage({ title, viewer: viewerOf(res), current, children }));
}

/** Parses a form with the API's own schema; the first problem as text, or the value. */
function parseForm<S extends z.ZodType>(schema: S, value: unknown): { ok: true; value: z.infer<S> } | { ok: false; error: string } {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    error: fieldErrors(result.error)
      .map((e) => `${e.pointer.replace(/^\//, '') || 'form'}: ${e.detail}`)
      .join('; '),
  };
}

const field = (req: Request, name: string): string => {
  const v = (req.body as Record<string, unknown> | undefined)?.[name] ?? req.query[name];
  return typeof v === 'string' ? v : '';
};

const splitList = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function consoleRouter(deps: ApiDeps, limits: RateLimits): Router {
  const router = Router();
  const settings = sessionSettings(deps.cfg);
  const anonymous = anonymousLimit(limits);
  const session = requireSession(deps.db, limits, settings);
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 });
  const need = (...permissions: Permission[]) => permissions.map((p) => requirePermission(p));

  router.use(consoleHeaders);
  router.get('/assets/console.css', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('css').send(CONSOLE_CSS);
  });
  router.use(form, sameOrigin);

  // ---------------------------------------------------------------- sign-in and sign-out
  // People sign in with OIDC when the console has a client at the issuer (IDENTITY_CONSOLE_CLIENT_ID).
  const identity = deps.cfg.identity;
  const oidc = identity?.console ? new OidcLogin({ ...identity, ...identity.console }) : undefined;
  const signInPage = (req: Request, res: Response, status: number, error: string | null) => {
    const token = randomToken();
    setCookie(req, res, SIGN_IN_COOKIE, token, SIGN_IN_COOKIE_MS);
    const issuer = oidc?.issuer ?? null;
    html(res, status, renderPage({ title: 'Sign in', viewer: null, children: h(SignIn, { token, error, issuer }) }));
  };
  router.get('/sign-in', anonymous, (req, res) => signInPage(req, res, 200, null));
  router.post('/sign-in', anonymous, async (req, res) => {
    const expected = cookies(req).get(SIGN_IN_COOKIE);
    if (!expected || expected !== field(req, '_csrf'))
      throw problems.forbidden('the sign-in form is stale or was not sent from this console: reload it');
    const principal = await authenticate(deps.db, field(req, 'key'));
    if (!principal) {
      // Counted like the API's failed authentications: past the limit the address is refused.
      const failures = await limits.consume('auth-failures', clientAddress(req));
      if (!failures.allowed) throw tooManyRequests(failures);
      return signInPage(req, res, 401, 'That API key is not valid or has been revoked.');
    }
    const requestId = (res.locals.requestId as string | undefined) ?? null;
    const signInEntry = {
      actor: actorOf(principal),
      action: AUDIT_ACTIONS.consoleSignIn,
      subject: { kind: 'api_key', id: principal.apiKeyId },
      requestId,
    };
    const refusal = signInRefusal(principal);
    if (refusal) {
      await recordAuditAlone(deps.db, { ...signInEntry, outcome: 'refused', detail: { role: principal.role } });
      return signInPage(req, res, 403, `Refused: ${refusal}.`);
    }
    const verdict = await limits.consume(principal.role, principal.apiKeyId);
    if (!verdict.allowed) throw tooManyRequests(verdict);
    // The session and its audit row commit together.
    const opened = await inTransaction(deps.db, async (tx) => {
      const o = await openSession(tx, principal, settings);
      await recordAudit(tx, {
        ...signInEntry,
        outcome: 'done',
        detail: { session: o.session.id.slice(0, 16), expiresAt: o.session.expiresAt.toISOString() },
      });
      return o;
    });
    deps.log.info({ apiKeyId: principal.apiKeyId, session: opened.session.id.slice(0, 12) }, 'console sign-in');
    setCookie(req, res, SESSION_COOKIE, opened.token, settings.maxMs);
    setCookie(req, res, SIGN_IN_COOKIE, '', 0);
    res.redirect(303, '/console');
  });
  if (oidc) mountOidcSignIn(router, deps, limits, oidc, anonymous, (req, res, status, error) => signInPage(req, res, status, error));
  router.post('/sign-out', session, async (req, res) => {
    const s = sessionOf(res);
    await inTransaction(deps.db, async (tx) => {
      if (!(await closeSession(tx, s.id))) return;
      await recordAudit(tx, {
        ...auditBy(res, s.principal),
        action: AUDIT_ACTIONS.consoleSignOut,
        subject: s.principal.person ? { kind: 'person', id: s.principal.person.subject } : { kind: 'api_key', id: s.principal.apiKeyId },
        outcome: 'done',
        detail: { session: s.id.slice(0, 16) },
      });
    });
    deps.log.info({ apiKeyId: s.principal.apiKeyId, session: s.id.slice(0, 12) }, 'console sign-out');
    setCookie(req, res, SESSION_COOKIE, '', 0);
    res.redirect(303, '/console/sign-in');
  });

  router.use(session);
  const temporalUi = temporalUiLinks(deps.cfg.console.temporalUiUrl, deps.cfg.temporal.namespace);

  // ---------------------------------------------------------------- pages
  router.get('/', ...need('orders:read', 'customers:any', 'reconciliation:read', 'dlq:read'), async (_req, res) => {
    const groups = [AUDIT_CONSUMER, NOTIFICATIONS_CONSUMER].map((n) => `${deps.cfg.consumers.groupPrefix}${n}`);
    const [counts, needsAttention, inFlight, findings, deadLetters, relay, lag] = await Promise.all([
      countByStatus(deps.db),
      ordersInStatus(deps.db, ['NEEDS_ATTENTION'], PAGE_SIZE),
      ordersInStatus(deps.db, IN_FLIGHT_STATUSES, 1),
      listFindings(deps.db, { status: 'open', limit: 1 }),
      listDeadLetters(deps.db, { limit: 1, replayed: false }),
      outboxBacklog(deps.db),
      consumerLag(deps.kafka, deps.cfg.kafka.eventsTopic, groups),
    ]);
    const data = {
      counts,
      needsAttention,
      oldestInFlight: inFlight[0] ?? null,
      openFindings: findings.total,
      pendingDeadLetters: deadLetters.total,
      relay,
      lag,
      admission: deps.admission.snapshot(),
      temporalLists: Object.fromEntries(SEARCHED_STATUSES.map((st) => [st, temporalUi.withStatus(st)])),
    };
    page(res, 'Overview', '/console', h(Overview, { data, viewer: viewerOf(res) }));
  });

  router.get('/orders', ...need('orders:read', 'customers:any'), async (req, res) => {
    const q: OrdersQuery = {
      id: field(req, 'id').trim(),
      customer: field(req, 'customer').trim(),
      status: field(req, 'status'),
      from: field(req, 'from'),
      to: field(req, 'to'),
    };
    const errors: string[] = [];
    const date = (s: string, what: string) => {
      if (!s) return undefined;
      const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(s) ? s : `${s}Z`);
      if (Number.isNaN(d.getTime())) errors.push(`${what} is not a date and time`);
      return Number.isNaN(d.getTime()) ? undefined : d;
    };
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    if (q.id && !UUID.test(q.id)) errors.push('an order id is a UUID');
    if (q.status && !(ORDER_STATUSES as readonly string[]).includes(q.status)) errors.push(`no status "${q.status}"`);
    const cursorText = field(req, 'after');
    const [cursorAt, cursorId] = cursorText.split('_');
    const after =
      cursorAt && cursorId && UUID.test(cursorId) && !Number.isNaN(Date.parse(cursorAt))
        ? { createdAt: new Date(cursorAt), orderId: cursorId }
        : undefined;
    const result = errors.length
      ? { items: [], next: null }
      : await searchOrders(deps.db, {
          orderId: q.id ? q.id.toLowerCase() : undefined,
          customerId: q.customer || undefined,
          status: (q.status || undefined) as OrderStatus | undefined,
          from: date(q.from, 'from'),
          to: date(q.to, 'to'),
          after,
          limit: PAGE_SIZE,
        });
    const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v) as [string, string][]);
    if (result.next) params.set('after', `${result.next.createdAt}_${result.next.orderId}`);
    const nextHref = result.next ? `/console/orders?${params.toString()}` : null;
    page(
      res,
      'Orders',
      '/console/orders',
      h(Orders, { query: q, items: result.items, nextHref, error: errors.join('; ') || null }),
      errors.length ? 400 : 200,
    );
  });

  const loadOrder = async (req: Request, res: Response) => {
    const orderId = uuidParam(req, 'id', 'order');
    const found = await findOrderView(deps.db, orderId);
    // Scoped like the API: an order of a customer the principal may not act for does not exist.
    if (!found || !mayActFor(sessionOf(res).principal, found.view.customerId)) throw problems.notFound(`no order "${orderId}"`);
    return found.view;
  };

  router.get('/orders/:id', ...need('orders:read', 'ledgers:read', 'dlq:read', 'reconciliation:read'), async (req, res) => {
    const order = await loadOrder(req, res);
    const id = order.orderId;
    const { workflowId } = orderLogFields(id);
    const auditRows = viewerOf(res).may('audit:read')
      ? listAudit(deps.db, { subject: id }, { limit: 100 }).then((p) => p.items)
      : Promise.resolve([]);
    const [window, saga, events, money, reservation, deadLetters, findings, audit] = await Promise.all([
      compensationWindow(deps.db, id),
      findSagaView(deps.temporal, id),
      eventsOfAggregate(deps.db, id),
      findOrderMoney(deps.db, id),
      findOrderReservation(deps.db, id),
      listDeadLetters(deps.db, { limit: 100, messageKeys: [id] }),
      listFindings(deps.db, { status: 'all', subjectIds: [id, workflowId], limit: 100 }),
      auditRows,
    ]);
    const traceparent = events.find((e) => e.traceparent)?.traceparent ?? null;
    const d: OrderData = {
      order,
      window: window ?? { closesAt: null, closedAt: null, open: false },
      saga,
      events,
      money,
      reservation,
      deadLetters: deadLetters.items,
      findings: findings.items,
      audit,
      links: {
        temporal: temporalUi.workflow(workflowId),
        temporalList: temporalUi.withStatus(order.status),
        traceCommand: `npx tsx scripts/trace.ts ${id}`,
        traceId: traceparent?.split('-')[1] ?? null,
        logQuery: `grep -h '"orderId":"${id}"' .stack/logs/*.log`,
      },
    };
    page(res, `Order ${id.slice(0, 8)}`, '/console/orders', h(OrderPage, { d, viewer: viewerOf(res) }));
  });

  // ---------------------------------------------------------------- actions: confirm (GET), do (POST), result
  const compensation = (kind: 'compensate' | 'resume') => {
    const title = kind === 'compensate' ? 'Compensate order' : 'Resume saga';
    const confirm = async (req: Request, res: Response, error: string | null, status = 200) => {
      const order = await loadOrder(req, res);
      const window = await compensationWindow(deps.db, order.orderId);
      const what =
        kind === 'compensate'
          ? `Refund ${order.customerId} and restock order ${order.orderId} (status ${order.status}; window ${window?.open ? `open until ${window.closesAt}` : 'closed'}). This cannot be undone.`
          : `Retry the pending compensation of order ${order.orderId} (status ${order.status}, parked: ${order.failureReason ?? 'no reason recorded'}).`;
      page(
        res,
        title,
        '/console/orders',
        h(Confirm, {
          viewer: viewerOf(res),
          action: `/console/orders/${order.orderId}/${kind}`,
          what,
          button: kind === 'compensate' ? 'Yes, compensate' : 'Yes, resume',
          danger: kind === 'compensate',
          reason: { label: 'Reason (recorded with the action)', value: field(req, 'reason') },
          error,
          back: `/console/orders/${order.orderId}`,
        }),
        status,
      );
    };
    router.get(`/orders/:id/${kind}`, ...need('orders:compensate'), (req, res) => confirm(req, res, null));
    router.post(`/orders/:id/${kind}`, ...need('orders:compensate'), async (req, res) => {
      const order = await loadOrder(req, res);
      const parsed = parseForm(ReasonBody, { reason: field(req, 'reason') });
      if (!parsed.ok) return confirm(req, res, `A reason is required: ${parsed.error}`, 400);
      if (kind === 'resume' && order.status !== 'NEEDS_ATTENTION')
        return confirm(req, res, `The order is ${order.status}, not NEEDS_ATTENTION.`, 409);
      const accepted = await requestCompensation(deps, order.orderId, parsed.value.reason, auditBy(res, sessionOf(res).principal));
      deps.log.info(
        { orderId: order.orderId, reason: parsed.value.reason, by: sessionOf(res).principal.apiKeyId, via: 'console' },
        `${kind} requested`,
      );
      page(
        res,
        title,
        '/console/orders',
        h(
          Result,
          { ok: true, next: [{ href: `/console/orders/${order.orderId}`, label: 'Follow the order' }] },
          `The saga of order ${order.orderId} (${accepted.status}) accepted the request; it now ${kind === 'compensate' ? 'refunds and restocks' : 'retries its compensation'}.`,
        ),
      );
    });
  };
  compensation('compensate');
  compensation('resume');

  const runConfirm = (req: Request, res: Response, error: string | null) => {
    const order = field(req, 'order');
    page(
      res,
      'Start a reconciliation run',
      '/console/findings',
      h(Confirm, {
        viewer: viewerOf(res),
        action: '/console/reconciliation/run',
        what: order ? `Run every check on order ${order} now.` : 'Run every check on everything now (a full pass).',
        button: 'Yes, start the run',
        hidden: order ? { order } : {},
        error,
        back: order ? `/console/orders/${order}` : '/console/findings',
      }),
    );
  };
  router.get('/reconciliation/run', ...need('reconciliation:run'), async (req, res) => runConfirm(req, res, null));
  router.post('/reconciliation/run', ...need('reconciliation:run'), async (req, res) => {
    const order = field(req, 'order');
    if (order && !/^[0-9a-f-]{36}$/i.test(order)) return runConfirm(req, res, 'an order id is a UUID');
    const orderIds = order ? [order.toLowerCase()] : undefined;
    const run = await inTransaction(deps.db, async (tx) => {
      const r = await requestRun(tx, { mode: 'FULL', scope: orderIds ? { orderIds } : null });
      await recordAudit(tx, {
        ...auditBy(res, sessionOf(res).principal),
        action: AUDIT_ACTIONS.reconciliationRun,
        subject: { kind: 'reconciliation_run', id: String(r.id) },
        outcome: 'done',
        detail: { mode: r.mode, orderIds: orderIds?.length ?? null },
      });
      return r;
    });
    deps.log.info({ runId: run.id, by: sessionOf(res).principal.apiKeyId, via: 'console' }, 'reconciliation run requested');
    page(
      res,
      'Reconciliation run requested',
      '/console/findings',
      h(
        Result,
        { ok: true, next: [{ href: '/console/findings', label: 'Findings' }] },
        `Run ${run.id} is ${run.status}; the active reconciler picks it up now.`,
      ),
    );
  });

  router.get('/findings', ...need('reconciliation:read'), async (req, res) => {
    const status = (['open', 'suspect', 'resolved', 'all'].includes(field(req, 'status')) ? field(req, 'status') : 'open') as
      'open' | 'suspect' | 'resolved' | 'all';
    const found = await listFindings(deps.db, { status, limit: PAGE_SIZE * 2 });
    page(res, 'Findings', '/console/findings', h(Findings, { items: found.items, total: found.total, status, viewer: viewerOf(res) }));
  });

  router.get('/dead-letters', ...need('dlq:read'), async (req, res) => {
    const showAll = field(req, 'all') === '1';
    const found = await listDeadLetters(deps.db, { limit: PAGE_SIZE * 2, ...(showAll ? {} : { replayed: false }) });
    page(
      res,
      'Dead letters',
      '/console/dead-letters',
      h(DeadLetters, { items: found.items, total: found.total, showAll, viewer: viewerOf(res) }),
    );
  });
  const deadLetterOf = async (req: Request) => {
    const id = pathParam(req, 'id');
    const found = DEAD_LETTER_ID.test(id) ? await getDeadLetter(deps.db, id) : null;
    if (!found) throw problems.notFound(`no dead letter "${id}"`);
    return found;
  };
  router.get('/dead-letters/:id/replay', ...need('dlq:replay'), async (req, res) => {
    const l = await deadLetterOf(req);
    page(
      res,
      `Replay dead letter ${l.id}`,
      '/console/dead-letters',
      h(Confirm, {
        viewer: viewerOf(res),
        action: `/console/dead-letters/${l.id}/replay`,
        what: `Send ${l.eventType ?? 'the message'} (key ${l.messageKey ?? 'none'}) back to ${l.sourceTopic}. It failed in ${l.consumerGroup}: ${l.errorMessage}. Groups that already applied it skip it.`,
        button: 'Yes, replay',
        back: '/console/dead-letters',
      }),
    );
  });
  router.post('/dead-letters/:id/replay', ...need('dlq:replay'), async (req, res) => {
    const l = await deadLetterOf(req);
    const replayed = await replayDeadLetter(deps.db, deps.kafka, l.id, (tx, letter) =>
      recordAudit(tx, {
        ...auditBy(res, sessionOf(res).principal),
        action: AUDIT_ACTIONS.deadLetterReplay,
        subject: { kind: 'dead_letter', id: letter.id },
        outcome: 'done',
        detail: { eventId: letter.eventId, sourceTopic: letter.sourceTopic },
      }).then(() => undefined),
    );
    deps.log.info(
      { deadLetterId: l.id, eventId: l.eventId, by: sessionOf(res).principal.apiKeyId, via: 'console' },
      'dead letter replayed',
    );
    page(
      res,
      `Dead letter ${l.id} replayed`,
      '/console/dead-letters',
      h(
        Result,
        { ok: true, next: [{ href: '/console/dead-letters', label: 'Dead letters' }] },
        `Sent back to ${replayed.sourceTopic} (replay ${replayed.replayCount}).`,
      ),
    );
  });

  // ---------------------------------------------------------------- API keys
  const keysPage = async (res: Response, created: { id: string; key: string; name: string } | null, status = 200) => {
    const items = await listApiKeys(deps.db, { limit: 200, offset: 0 });
    page(res, 'API keys', '/console/api-keys', h(ApiKeys, { items, viewer: viewerOf(res), created }), status);
  };
  router.get('/api-keys', ...need('keys:manage'), async (_req, res) => keysPage(res, null));
  router.post('/api-keys', ...need('keys:manage'), async (req, res) => {
    const role = field(req, 'role');
    const parsed = parseForm(ApiKeyBody, {
      name: field(req, 'name'),
      role,
      customers: role === 'admin' ? [] : splitList(field(req, 'customers')),
    });
    if (!parsed.ok) throw problems.validation(parsed.error, []);
    const customers = [...new Set(parsed.value.customers)].sort();
    const created = await inTransaction(deps.db, async (tx) => {
      const c = await createApiKey(tx, parsed.value.name, parsed.value.role, customers);
      await recordAudit(tx, {
        ...auditBy(res, sessionOf(res).principal),
        action: AUDIT_ACTIONS.apiKeyCreate,
        subject: { kind: 'api_key', id: c.id },
        outcome: 'done',
        detail: { name: parsed.value.name, role: parsed.value.role, customers },
      });
      return c;
    });
    deps.log.info(
      { apiKeyId: created.id, role: parsed.value.role, by: sessionOf(res).principal.apiKeyId, via: 'console' },
      'API key created',
    );
    await keysPage(res, { ...created, name: parsed.value.name }, 201);
  });
  router.post('/api-keys/:id/grants', ...need('keys:manage'), async (req, res) => {
    const id = uuidParam(req, 'id', 'API key');
    const parsed = parseForm(GrantsBody, { customers: splitList(field(req, 'customers')) });
    if (!parsed.ok) throw problems.validation(parsed.error, []);
    const customers = [...new Set(parsed.value.customers)].sort();
    const found = await inTransaction(deps.db, async (tx) => {
      if (!(await setGrants(tx, id, customers))) return false;
      await recordAudit(tx, {
        ...auditBy(res, sessionOf(res).principal),
        action: AUDIT_ACTIONS.apiKeyGrant,
        subject: { kind: 'api_key', id },
        outcome: 'done',
        detail: { customers },
      });
      return true;
    });
    if (!found) throw problems.notFound(`no API key "${id}"`);
    deps.log.info(
      { apiKeyId: id, customers: parsed.value.customers.length, by: sessionOf(res).principal.apiKeyId, via: 'console' },
      'API key grants replaced',
    );
    res.redirect(303, '/console/api-keys');
  });
  router.get('/api-keys/:id/revoke', ...need('keys:manage'), async (req, res) => {
    const key = await findApiKey(deps.db, uuidParam(req, 'id', 'API key'));
    if (!key) throw problems.notFound(`no API key "${pathParam(req, 'id')}"`);
    const self = key.id === sessionOf(res).principal.apiKeyId;
    page(
      res,
      `Revoke ${key.name}`,
      '/console/api-keys',
      h(Confirm, {
        viewer: viewerOf(res),
        action: `/console/api-keys/${key.id}/revoke`,
        what: `Revoke ${key.role} key ${key.name} (${key.id}): every request with it is refused from now on${self ? ', and this session ends (it is your own key)' : ''}.`,
        button: 'Yes, revoke',
        danger: true,
        back: '/console/api-keys',
      }),
    );
  });
  router.post('/api-keys/:id/revoke', ...need('keys:manage'), async (req, res) => {
    const id = uuidParam(req, 'id', 'API key');
    const found = await inTransaction(deps.db, async (tx) => {
      if (!(await revokeApiKey(tx, id))) return false;
      await recordAudit(tx, {
        ...auditBy(res, sessionOf(res).principal),
        action: AUDIT_ACTIONS.apiKeyRevoke,
        subject: { kind: 'api_key', id },
        outcome: 'done',
      });
      return true;
    });
    if (!found) throw problems.notFound(`no API key "${id}"`);
    deps.log.info({ apiKeyId: id, by: sessionOf(res).principal.apiKeyId, via: 'console' }, 'API key revoked');
    page(
      res,
      'Key revoked',
      '/console/api-keys',
      h(Result, { ok: true, next: [{ href: '/console/api-keys', label: 'API keys' }] }, `Key ${id} is revoked.`),
    );
  });

  router.get('/audit-log', ...need('audit:read'), async (req, res) => {
    const q = {
      action: field(req, 'action'),
      actor: field(req, 'actor').trim(),
      subject: field(req, 'subject').trim(),
      outcome: field(req, 'outcome'),
    };
    const parsed = parseForm(AuditQuery, {
      ...Object.fromEntries(Object.entries(q).filter(([, v]) => v)),
      ...(field(req, 'cursor') ? { cursor: field(req, 'cursor') } : {}),
    });
    const error = parsed.ok ? null : parsed.error;
    const before = parsed.ok && parsed.value.cursor ? decodeAuditCursor(parsed.value.cursor) : undefined;
    const found = parsed.ok
      ? await listAudit(
          deps.db,
          { action: parsed.value.action, actor: parsed.value.actor, subject: parsed.value.subject, outcome: parsed.value.outcome },
          { limit: PAGE_SIZE, before },
        )
      : { items: [], next: null };
    const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v) as [string, string][]);
    if (found.next !== null) params.set('cursor', Buffer.from(found.next.toString(), 'utf8').toString('base64url'));
    const nextHref = found.next !== null ? `/console/audit-log?${params.toString()}` : null;
    page(res, 'Audit log', '/console/audit-log', h(AuditLog, { query: q, items: found.items, nextHref, error }), error ? 400 : 200);
  });

  router.use((req: Request) => {
    throw problems.notFound(`no console page ${req.method} ${req.path}`);
  });
  router.use(consoleErrors(deps));
  return router;
}

/** The id behind an audit page cursor (the API's encoding: base64url of the digits); undefined if it is not one. */
function decodeAuditCursor(cursor: string): bigint | undefined {
  const digits = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^[1-9]\d{0,18}$/.test(digits) ? BigInt(digits) : undefined;
}

/** Errors as pages: the same problem (status, code, title) the API would answer, in HTML. */
function consoleErrors(deps: ApiDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof SignInRequired && req.method === 'GET') return res.redirect(303, '/console/sign-in');
    const problem: Problem = problemFor(err, req, res, deps.log);
    for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
    const viewer: Viewer | null = res.locals.consoleSession ? viewerOf(res) : null;
    const body = h(ErrorPage, { status: problem.status, title: problem.title, detail: problem.detail, code: problem.code });
    html(res, problem.status, renderPage({ title: problem.title, viewer, children: body }));
  };
}

/** The sign-in cookie of an OIDC sign-in: Lax (the issuer's redirect back is a top-level navigation from its site), only on /console/auth. */
function setLoginCookie(req: Request, res: Response, value: string, maxAgeS: number): void {
  const attrs = [`${LOGIN_COOKIE}=${value}`, 'Path=/console/auth', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeS}`];
  if (req.secure) attrs.push('Secure');
  res.append('Set-Cookie', attrs.join('; '));
}

/**
 * GET /console/auth/login: to the issuer (authorization code + PKCE, services/access/oidc-login.ts);
 * GET /console/auth/callback: the person's session, audited as the person. The session cookie
 * is SameSite=Strict, which a browser withholds on a redirect chain that began at the issuer's
 * site: the callback answers a page that moves on (Refresh) as a same-site navigation.
 */
function mountOidcSignIn(
  router: Router,
  deps: ApiDeps,
  limits: RateLimits,
  oidc: OidcLogin,
  anonymous: (req: Request, res: Response, next: NextFunction) => Promise<void>,
  refuse: (req: Request, res: Response, status: number, error: string) => void,
): void {
  const settings = sessionSettings(deps.cfg);
  const unavailable = (err: unknown) => (err instanceof IdentityUnavailable ? problems.identityUnavailable(err.message) : err);
  router.get('/auth/login', anonymous, async (req, res) => {
    const returnTo = typeof req.query.returnTo === 'string' ? req.query.returnTo : undefined;
    const pending = await oidc.begin(returnTo).catch((err: unknown) => {
      throw unavailable(err);
    });
    setLoginCookie(req, res, pending.cookie, pending.maxAgeS);
    res.redirect(303, pending.url);
  });
  router.get('/auth/callback', anonymous, async (req, res) => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') query.set(k, v);
    let signedIn: { person: SignedInPerson; returnTo: string };
    try {
      signedIn = await oidc.finish(query, cookies(req).get(LOGIN_COOKIE));
    } catch (err) {
      if (!(err instanceof SignInRefused)) throw unavailable(err);
      const failures = await limits.consume('auth-failures', clientAddress(req));
      if (!failures.allowed) throw tooManyRequests(failures);
      setLoginCookie(req, res, '', 0);
      return refuse(req, res, 401, `Sign-in refused: ${err.reason}.`);
    }
    const { person, returnTo } = signedIn;
    const requestId = (res.locals.requestId as string | undefined) ?? null;
    const entry = {
      actor: personActor(person),
      action: AUDIT_ACTIONS.consoleSignIn,
      subject: { kind: 'person', id: person.subject },
      requestId,
    };
    const opened = await inTransaction(deps.db, async (tx) => {
      const rowId = await registerPerson(tx, person);
      if (!rowId) return null;
      const principal = personPrincipal(person, rowId);
      const o = await openSession(tx, principal, settings);
      await recordAudit(tx, {
        ...entry,
        outcome: 'done',
        detail: {
          roles: person.roles,
          issuer: person.issuer,
          session: o.session.id.slice(0, 16),
          expiresAt: o.session.expiresAt.toISOString(),
        },
      });
      return o;
    });
    setLoginCookie(req, res, '', 0);
    if (!opened) {
      await recordAuditAlone(deps.db, { ...entry, outcome: 'refused', detail: { reason: 'person revoked' } });
      return refuse(req, res, 403, `Refused: the console access of ${person.name} is revoked.`);
    }
    deps.log.info({ person: person.subject, roles: person.roles, session: opened.session.id.slice(0, 12) }, 'console sign-in (OIDC)');
    setCookie(req, res, SESSION_COOKIE, opened.token, settings.maxMs);
    res.setHeader('Refresh', `0; url=${returnTo}`);
    html(
      res,
      200,
      renderPage({
        title: 'Signed in',
        viewer: null,
        children: h(
          Result,
          { ok: true, next: [{ href: returnTo, label: 'Continue to the console' }] },
          `Signed in as ${person.name} (${person.roles.join(', ')}).`,
        ),
      }),
    );
  });
}

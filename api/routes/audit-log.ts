/** /admin/audit-log: the operator audit log (services/platform/audit-log), filtered, newest first, by keyset pages. */
import { listAudit } from '../../services/platform/audit-log/audit-log';
import { parseBody } from '../http';
import { operation } from '../operation';
import { API_PROBLEMS, problems } from '../problem';
import { AuditPageView, AuditQuery } from '../schemas';

/** A page's `next`: the last row's id, opaque to callers (base64url of its digits). */
const encodeCursor = (id: bigint): string => Buffer.from(id.toString(), 'utf8').toString('base64url');

function decodeCursor(cursor: string): bigint {
  const digits = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9]\d{0,18}$/.test(digits)) {
    throw problems.validation('cursor: not a cursor this API gave', [{ pointer: '/cursor', detail: 'use the `next` of a previous page' }]);
  }
  return BigInt(digits);
}

export const AUDIT_LOG_OPERATIONS = [
  operation({
    method: 'get',
    path: '/admin/audit-log',
    summary:
      'The operator audit log, newest first (?action=&actor=&subject=&outcome=&from=&to=&limit=&cursor=; `next` is the cursor of the following page)',
    access: 'admin',
    permission: 'audit:read',
    responses: { 200: AuditPageView },
    problems: [API_PROBLEMS.VALIDATION_ERROR],
    async handle({ req, deps }) {
      const q = parseBody(AuditQuery, { ...req.query });
      const from = q.from ? new Date(q.from) : undefined;
      const to = q.to ? new Date(q.to) : undefined;
      if (from && to && from >= to) {
        throw problems.validation('from must be before to', [{ pointer: '/from', detail: 'an earlier time than `to`' }]);
      }
      const page = await listAudit(
        deps.db,
        { action: q.action, actor: q.actor, subject: q.subject, outcome: q.outcome, from, to },
        { limit: q.limit, before: q.cursor ? decodeCursor(q.cursor) : undefined },
      );
      return { status: 200, body: { limit: q.limit, items: page.items, next: page.next === null ? null : encodeCursor(page.next) } };
    },
  }),
];

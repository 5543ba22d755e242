/**
 * Who the audit log (services/platform/audit-log) names for an API call: the caller's key or
 * token client, and the request's X-Request-Id (api/observability.ts).
 */
import type { Response } from 'express';
import type { Principal } from '../services/access/api-keys';
import { actorOf, type AuditBy } from '../services/platform/audit-log/audit-log';

export function auditBy(res: Response, principal: Principal): AuditBy {
  const requestId = res.locals.requestId as string | undefined;
  return { actor: actorOf(principal), requestId: requestId ?? null };
}

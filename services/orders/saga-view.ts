/**
 * The saga as Temporal knows it, for operators: the workflow's own `status` query (what it
 * has done and what compensation is pending) and a summary of its event history (activities
 * with their outcome, signals and updates with the sender's identity, timers). Read-only; a
 * workflow that cannot be reached (worker down, history gone) is reported, never thrown.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { orderWorkflowId, QUERIES, type SagaState } from './contract';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** One line of the workflow's history, as a timeline shows it. */
export interface SagaHistoryEntry {
  at: string;
  kind: 'workflow' | 'activity' | 'signal' | 'update' | 'timer';
  name: string;
  /** started, completed, failed, timed out, cancelled, scheduled, fired, received, ... */
  outcome: string;
  detail: string | null;
  /** Who sent it (signals, updates, cancel requests): the client's identity as Temporal recorded it. */
  identity: string | null;
}

export interface SagaView {
  workflowId: string;
  /** The `status` query's answer; null when the workflow could not answer (closed runs answer too). */
  state: SagaState | null;
  /** Temporal's execution status (RUNNING, COMPLETED, ...); null if the workflow is unknown. */
  executionStatus: string | null;
  history: SagaHistoryEntry[];
  /** Why something is missing: the workflow does not exist, or Temporal did not answer. */
  problem: string | null;
}

const QUERY_TIMEOUT_MS = 3000;

function at(e: HistoryEvent): string {
  const t = e.eventTime;
  const ms = t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
  return new Date(ms).toISOString();
}

function failureText(f: temporal.api.failure.v1.IFailure | null | undefined): string | null {
  if (!f) return null;
  const type = f.applicationFailureInfo?.type;
  return [type, f.message].filter(Boolean).join(': ') || null;
}

/** The history as timeline lines: activities once each (scheduled, then their outcome), signals, updates, timers. */
export function summarizeHistory(events: readonly HistoryEvent[]): SagaHistoryEntry[] {
  const activities = new Map<string, string>();
  const timers = new Map<string, string>();
  const out: SagaHistoryEntry[] = [];
  const push = (e: HistoryEvent, entry: Omit<SagaHistoryEntry, 'at' | 'detail' | 'identity'> & Partial<SagaHistoryEntry>) =>
    out.push({ at: at(e), detail: null, identity: null, ...entry });
  for (const e of events) {
    const id = String(e.eventId ?? '');
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        push(e, {
          kind: 'workflow',
          name: e.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'workflow',
          outcome: 'started',
          identity: e.workflowExecutionStartedEventAttributes?.identity ?? null,
        });
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        activities.set(id, e.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        push(e, {
          kind: 'activity',
          name: activities.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? '')) ?? 'activity',
          outcome: 'completed',
        });
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const a = e.activityTaskFailedEventAttributes;
        push(e, {
          kind: 'activity',
          name: activities.get(String(a?.scheduledEventId ?? '')) ?? 'activity',
          outcome: 'failed',
          detail: failureText(a?.failure),
        });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        push(e, {
          kind: 'activity',
          name: activities.get(String(e.activityTaskTimedOutEventAttributes?.scheduledEventId ?? '')) ?? 'activity',
          outcome: 'timed out',
        });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const s = e.workflowExecutionSignaledEventAttributes;
        push(e, { kind: 'signal', name: s?.signalName ?? 'signal', outcome: 'received', identity: s?.identity ?? null });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const u = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
        push(e, { kind: 'update', name: u?.input?.name ?? 'update', outcome: 'accepted', identity: u?.meta?.identity ?? null });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        push(e, {
          kind: 'workflow',
          name: 'cancel request',
          outcome: 'received',
          identity: e.workflowExecutionCancelRequestedEventAttributes?.identity ?? null,
        });
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED: {
        const t = e.timerStartedEventAttributes;
        const s = Number(t?.startToFireTimeout?.seconds ?? 0);
        timers.set(String(t?.timerId ?? ''), `${s} s`);
        push(e, { kind: 'timer', name: 'timer', outcome: 'started', detail: `fires after ${s} s` });
        break;
      }
      case EventType.EVENT_TYPE_TIMER_FIRED:
        push(e, {
          kind: 'timer',
          name: 'timer',
          outcome: 'fired',
          detail: timers.get(String(e.timerFiredEventAttributes?.timerId ?? '')) ?? null,
        });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        push(e, { kind: 'workflow', name: 'workflow', outcome: 'completed' });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        push(e, {
          kind: 'workflow',
          name: 'workflow',
          outcome: 'failed',
          detail: failureText(e.workflowExecutionFailedEventAttributes?.failure),
        });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        push(e, { kind: 'workflow', name: 'workflow', outcome: 'cancelled' });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        push(e, {
          kind: 'workflow',
          name: 'workflow',
          outcome: 'terminated',
          detail: e.workflowExecutionTerminatedEventAttributes?.reason ?? null,
          identity: e.workflowExecutionTerminatedEventAttributes?.identity ?? null,
        });
        break;
      default:
        break;
    }
  }
  return out;
}

/** The saga of an order as Temporal knows it. */
export async function findSagaView(client: Client, orderId: string): Promise<SagaView> {
  const workflowId = orderWorkflowId(orderId);
  const handle = client.workflow.getHandle(workflowId);
  const view: SagaView = { workflowId, state: null, executionStatus: null, history: [], problem: null };
  try {
    const [described, history] = await client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
      Promise.all([handle.describe(), handle.fetchHistory()]),
    );
    view.executionStatus = described.status.name;
    view.history = summarizeHistory(history.events ?? []);
  } catch (err) {
    view.problem =
      err instanceof WorkflowNotFoundError ? 'Temporal has no workflow for this order (yet)' : `Temporal did not answer: ${String(err)}`;
    return view;
  }
  try {
    view.state = await client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query<SagaState>(QUERIES.status));
  } catch (err) {
    view.problem = `the saga did not answer its status query: ${String(err)}`;
  }
  return view;
}

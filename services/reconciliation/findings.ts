/**
 * The findings log. Per (check, fingerprint) at most one open row (a partial unique index);
 * rows are never deleted (a trigger), a resolved row is never changed again, and a recurrence
 * opens a new row. A failure is first a suspect (raised_at null); it is raised once it has
 * kept failing for longer than its check's grace window. Every write is set-based: one
 * statement per check per batch, whatever the batch holds.
 *
 * Flood control (after Formance): new failures of a check are held back until the end of the
 * run, at most RECONCILE_FLOOD_CAP of them. If a run finds more, none of them is written;
 * one meta-finding (`check:<name>`) carries the count and a sample instead.
 */
import type { Pool } from 'pg';
import type { ReconcilerSettings } from '../../lib/config';
import { CHECKS, fingerprintOf, floodFingerprint, type CheckName, type CheckSummary, type SubjectType } from './contract';
import { graceMs, type Failure } from './checks/check';

const SAMPLE = 20;

/** Open findings (and suspects) of the given checks among some subjects: check -> subject ids. */
export async function openSubjects(
  pg: Pool,
  subjectType: SubjectType,
  ids: string[],
  checks: CheckName[],
): Promise<Map<CheckName, string[]>> {
  const { rows } = await pg.query<{ check_name: CheckName; subject_id: string }>(
    `SELECT check_name, subject_id FROM reconciliation_findings
      WHERE resolved_at IS NULL AND subject_type = $1 AND subject_id = ANY($2::text[]) AND check_name = ANY($3::text[])`,
    [subjectType, ids, checks],
  );
  const byCheck = new Map<CheckName, string[]>();
  for (const r of rows) byCheck.set(r.check_name, [...(byCheck.get(r.check_name) ?? []), r.subject_id]);
  return byCheck;
}

/** Every open subject of some checks (an incremental run re-examines them, so they can resolve). */
export const OPEN_SUBJECTS_SQL = `
  SELECT subject_id FROM reconciliation_findings
   WHERE resolved_at IS NULL AND subject_type = $1 AND check_name = ANY($2::text[])`;

interface Tally extends CheckSummary {
  pending: Failure[];
  newCount: number;
  /** Listing checks: open findings seen failing in this run (all others resolve at the end). */
  stillFailing: Set<string>;
}

function emptyTally(): Tally {
  return {
    failing: 0,
    raised: 0,
    resolved: 0,
    open: 0,
    suspects: 0,
    flooded: false,
    durationMs: 0,
    pending: [],
    newCount: 0,
    stillFailing: new Set(),
  };
}

/** Writes one run's observations into the findings log. */
export class FindingRecorder {
  private readonly tallies = new Map<CheckName, Tally>();

  constructor(
    private readonly pg: Pool,
    private readonly runId: string,
    private readonly now: Date,
    private readonly settings: ReconcilerSettings,
  ) {}

  private tally(check: CheckName): Tally {
    let t = this.tallies.get(check);
    if (!t) this.tallies.set(check, (t = emptyTally()));
    return t;
  }

  /** Adds examination time to a check's tally. */
  timed(check: CheckName, ms: number): void {
    this.tally(check).durationMs += Math.round(ms);
  }

  private grace(check: CheckName): number {
    return graceMs(this.settings, CHECKS[check].grace);
  }

  /** A batch check's verdict on a batch: failures, and which open subjects it examined. */
  async recordBatch(check: CheckName, failures: Failure[], openIds: string[]): Promise<void> {
    const open = new Set(openIds);
    const failingIds = new Set(failures.map((f) => f.subjectId));
    await this.update(
      check,
      CHECKS[check].subject,
      failures.filter((f) => open.has(f.subjectId)),
    );
    this.hold(
      check,
      failures.filter((f) => !open.has(f.subjectId)),
    );
    await this.resolve(
      check,
      CHECKS[check].subject,
      openIds.filter((id) => !failingIds.has(id)),
    );
  }

  /** A page of a listing check's failures. */
  async recordListing(check: CheckName, failures: Failure[]): Promise<void> {
    if (failures.length === 0) return;
    const subject = CHECKS[check].subject;
    const open = new Set(
      (
        await openSubjects(
          this.pg,
          subject,
          failures.map((f) => f.subjectId),
          [check],
        )
      ).get(check) ?? [],
    );
    const t = this.tally(check);
    open.forEach((id) => t.stillFailing.add(id));
    await this.update(
      check,
      subject,
      failures.filter((f) => open.has(f.subjectId)),
    );
    this.hold(
      check,
      failures.filter((f) => !open.has(f.subjectId)),
    );
  }

  /**
   * The end of a listing check: its open findings not reported are resolved (all of them, or
   * within `scopeSubjects` for a scoped run).
   */
  async finishListing(check: CheckName, scopeSubjects: string[] | null): Promise<void> {
    const t = this.tally(check);
    const { rows } = await this.pg.query<{ was_raised: boolean }>(
      `UPDATE reconciliation_findings SET resolved_at = $3, resolved_run_id = $4, last_run_id = $4
        WHERE check_name = $1 AND subject_type = $2 AND resolved_at IS NULL
          AND NOT (subject_id = ANY($5::text[])) AND ($6::text[] IS NULL OR subject_id = ANY($6::text[]))
       RETURNING raised_at IS NOT NULL AS was_raised`,
      [check, CHECKS[check].subject, this.now, this.runId, [...t.stillFailing], scopeSubjects],
    );
    t.resolved += rows.filter((r) => r.was_raised).length;
  }

  private hold(check: CheckName, fresh: Failure[]): void {
    const t = this.tally(check);
    t.failing += fresh.length;
    t.newCount += fresh.length;
    for (const f of fresh) if (t.pending.length <= this.settings.floodCap) t.pending.push(f);
  }

  /** Failing again: refresh, and raise those whose failure has outlasted the grace window. */
  private async update(check: CheckName, subject: SubjectType, failures: Failure[]): Promise<void> {
    if (failures.length === 0) return;
    const t = this.tally(check);
    const { rows } = await this.pg.query<{ newly_raised: boolean }>(
      `WITH u AS (
         SELECT * FROM unnest($3::text[], $4::text[]::jsonb[]) AS u(subject_id, details)
       ), prev AS (
         SELECT f.id, f.raised_at FROM reconciliation_findings f JOIN u ON u.subject_id = f.subject_id
          WHERE f.check_name = $1 AND f.subject_type = $2 AND f.resolved_at IS NULL
       )
       UPDATE reconciliation_findings f
          SET last_seen_at = $5, last_run_id = $6, details = u.details, occurrences = f.occurrences + 1,
              raised_at = COALESCE(f.raised_at, CASE WHEN f.first_seen_at <= $5::timestamptz - $7::bigint * interval '1 millisecond' THEN $5::timestamptz END)
         FROM u, prev
        WHERE f.id = prev.id AND f.subject_id = u.subject_id
       RETURNING prev.raised_at IS NULL AND f.raised_at IS NOT NULL AS newly_raised`,
      [
        check,
        subject,
        failures.map((f) => f.subjectId),
        failures.map((f) => JSON.stringify(f.details)),
        this.now,
        this.runId,
        this.grace(check),
      ],
    );
    t.failing += failures.length;
    t.raised += rows.filter((r) => r.newly_raised).length;
  }

  private async insert(check: CheckName, subject: SubjectType, failures: Failure[]): Promise<void> {
    if (failures.length === 0) return;
    const raiseNow = this.grace(check) === 0;
    await this.pg.query(
      `INSERT INTO reconciliation_findings (check_name, fingerprint, subject_type, subject_id, details, first_seen_at, last_seen_at,
                                            raised_at, first_run_id, last_run_id)
       SELECT $1, $2 || ':' || u.subject_id, $2, u.subject_id, u.details, $5, $5, CASE WHEN $7::boolean THEN $5::timestamptz END, $6, $6
         FROM unnest($3::text[], $4::text[]::jsonb[]) AS u(subject_id, details)
       ON CONFLICT (check_name, fingerprint) WHERE resolved_at IS NULL DO NOTHING`,
      [check, subject, failures.map((f) => f.subjectId), failures.map((f) => JSON.stringify(f.details)), this.now, this.runId, raiseNow],
    );
    if (raiseNow) this.tally(check).raised += failures.length;
  }

  private async resolve(check: CheckName, subject: SubjectType, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const { rows } = await this.pg.query<{ was_raised: boolean }>(
      `UPDATE reconciliation_findings SET resolved_at = $4, resolved_run_id = $5, last_run_id = $5
        WHERE check_name = $1 AND subject_type = $2 AND subject_id = ANY($3::text[]) AND resolved_at IS NULL
       RETURNING raised_at IS NOT NULL AS was_raised`,
      [check, subject, ids, this.now, this.runId],
    );
    this.tally(check).resolved += rows.filter((r) => r.was_raised).length;
  }

  /**
   * Writes the new failures held back (or, past the flood cap, one meta-finding per check).
   * A full unscoped pass that did not flood resolves the check's meta-finding.
   */
  async finish(checks: CheckName[], completePass: boolean): Promise<void> {
    for (const check of checks) {
      const t = this.tally(check);
      const meta = {
        subjectId: check,
        details: {
          newFailures: t.newCount,
          cap: this.settings.floodCap,
          sample: t.pending.slice(0, SAMPLE).map((f) => fingerprintOf(CHECKS[check].subject, f.subjectId)),
        },
      };
      const metaOpen = ((await openSubjects(this.pg, 'check', [check], [check])).get(check) ?? []).length > 0;
      if (t.newCount > this.settings.floodCap) {
        t.flooded = true;
        if (metaOpen) await this.update(check, 'check', [meta]);
        else await this.insert(check, 'check', [meta]);
        continue;
      }
      await this.insert(check, CHECKS[check].subject, t.pending);
      if (metaOpen && completePass) await this.resolve(check, 'check', [check]);
    }
  }

  /** Per check: this run's counts, and the open findings and suspects after it (within `subjects`, if given). */
  async summary(checks: CheckName[], subjects: string[] | null): Promise<Record<CheckName, CheckSummary>> {
    const { rows } = await this.pg.query<{ check_name: CheckName; open: number; suspects: number }>(
      `SELECT check_name, count(*) FILTER (WHERE raised_at IS NOT NULL)::int AS open, count(*) FILTER (WHERE raised_at IS NULL)::int AS suspects
         FROM reconciliation_findings
        WHERE resolved_at IS NULL AND ($1::text[] IS NULL OR subject_id = ANY($1::text[]))
        GROUP BY check_name`,
      [subjects],
    );
    const counts = new Map(rows.map((r) => [r.check_name, r]));
    const out = {} as Record<CheckName, CheckSummary>;
    for (const check of checks) {
      const { pending: _p, newCount: _n, stillFailing: _s, ...t } = this.tally(check);
      out[check] = { ...t, open: counts.get(check)?.open ?? 0, suspects: counts.get(check)?.suspects ?? 0 };
    }
    return out;
  }
}

/** Open findings and suspects per check, everywhere: the reconciliation_findings gauges. */
export async function openFindingCounts(pg: Pool): Promise<{ open: Map<string, number>; suspects: Map<string, number> }> {
  const { rows } = await pg.query<{ check_name: string; open: number; suspects: number }>(
    `SELECT check_name, count(*) FILTER (WHERE raised_at IS NOT NULL)::int AS open, count(*) FILTER (WHERE raised_at IS NULL)::int AS suspects
       FROM reconciliation_findings WHERE resolved_at IS NULL GROUP BY check_name`,
  );
  return { open: new Map(rows.map((r) => [r.check_name, r.open])), suspects: new Map(rows.map((r) => [r.check_name, r.suspects])) };
}

export { floodFingerprint };

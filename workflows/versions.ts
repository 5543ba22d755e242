/**
 * The order saga's versions: one ordered list, oldest first, and one check, "is this run at
 * least version X". The first entry is the baseline (every run is at least that, and it needs no
 * patch marker); each later entry is a patch id, asked with `patched()` once, at the start of a
 * run, newest first, so a new run records exactly one marker (the newest) and a run started
 * under an older version keeps that version to its end. docs/workflow-versioning.md says when to
 * add a version, and how to retire one.
 *
 * Workflow code: deterministic.
 */
import { patched } from '@temporalio/workflow';

/** The saga's versions, oldest first. Pre-1.0 every older version was collapsed into the baseline. */
export const SAGA_VERSIONS = [
  '2026-12-baseline',
  /** A status write that fails past its bounded budget parks the saga in NEEDS_ATTENTION instead of failing the run. */
  '2026-12-bounded-writes',
] as const;
export type SagaVersion = (typeof SAGA_VERSIONS)[number];

/** The version one run follows. */
export interface RunVersion<V extends string> {
  readonly version: V;
  /** True when the run follows version `v` or a later one. */
  atLeast(v: V): boolean;
}

/** A version list's checks; `defineVersions(SAGA_VERSIONS)` is the saga's (tests define their own). */
export function defineVersions<const V extends readonly [string, ...string[]]>(versions: V) {
  type Version = V[number];
  const indexOf = (v: Version): number => versions.indexOf(v);
  const runVersion = (index: number): RunVersion<Version> => ({
    version: versions[index] as Version,
    atLeast: (v) => index >= indexOf(v),
  });
  return {
    versions,
    /**
     * The version of the running workflow. Call it once, at the start of the run, and keep the
     * answer: `patched()` asked later in a run that started without the marker says true once
     * the run is past its recorded history, so asking again would switch an old run mid-way.
     */
    ofThisRun(): RunVersion<Version> {
      for (let i = versions.length - 1; i > 0; i -= 1) if (patched(versions[i] as string)) return runVersion(i);
      return runVersion(0);
    },
    /** The version of a run from its TemporalChangeVersion search attribute (the patch markers it recorded). */
    ofChangeVersions(changeVersions: readonly string[]): RunVersion<Version> {
      for (let i = versions.length - 1; i > 0; i -= 1) if (changeVersions.includes(versions[i] as string)) return runVersion(i);
      return runVersion(0);
    },
  };
}

export const sagaVersions = defineVersions(SAGA_VERSIONS);

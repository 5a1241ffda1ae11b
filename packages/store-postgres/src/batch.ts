/**
 * Group commit on PostgreSQL: a batch of writes becomes, per segment, one statement whose
 * data-modifying CTEs upsert every execution, step, journal entry and circuit of the
 * segment through `unnest` (one round trip, one plan per combination of kinds).
 *
 * A batch applies in order. Upserts by primary key commute except for the last write of a
 * key, so within a segment each key keeps its last record (and steps keep the order in
 * which they were first written). A `journalTrim` ends a segment: entries written before
 * it may be trimmed, those written after it may not.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { StoreWrite } from '@orchestr8/core';
import {
  CIRCUIT_COLUMNS,
  circuitParams,
  EXECUTION_COLUMNS,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  STEP_COLUMNS,
  stepParams,
  toColumns,
  unnestInsert,
  upsertClause,
} from './rows.js';

export interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

interface Segment {
  executions: Map<string, unknown[]>;
  steps: Map<string, unknown[]>;
  journal: Map<string, unknown[]>;
  circuits: Map<string, unknown[]>;
  trim?: { executionId: string; beforeSeq: number };
}

const newSegment = (): Segment => ({
  executions: new Map(),
  steps: new Map(),
  journal: new Map(),
  circuits: new Map(),
});

/** Splits a batch into segments, each keyed write keeping its last value. */
export function segmentBatch(batch: readonly StoreWrite[]): Segment[] {
  const segments: Segment[] = [];
  let seg = newSegment();
  for (const w of batch) {
    switch (w.kind) {
      case 'execution':
        seg.executions.set(w.execution.id, executionParams(w.execution));
        break;
      case 'step': {
        const key = `${w.step.executionId}\u0000${w.step.stepId}`;
        seg.steps.set(key, stepParams(w.step));
        break;
      }
      case 'journal':
        for (const e of w.entries)
          seg.journal.set(`${w.executionId}\u0000${e.seq}`, journalParams(w.executionId, e));
        break;
      case 'journalTrim':
        seg.trim = { executionId: w.executionId, beforeSeq: w.beforeSeq };
        segments.push(seg);
        seg = newSegment();
        break;
      case 'circuit':
        seg.circuits.set(w.circuit.key, circuitParams(w.circuit));
        break;
      default:
        throw new Orchestr8Error(
          ErrorCode.STORE,
          `unknown store write kind: ${String((w as { kind?: unknown }).kind)}`,
        );
    }
  }
  segments.push(seg);
  return segments;
}

const UPSERT_EXECUTIONS = (first: number) =>
  unnestInsert('executions', EXECUTION_COLUMNS, first, upsertClause(EXECUTION_COLUMNS, ['id']));
const UPSERT_STEPS = (first: number) =>
  unnestInsert('steps', STEP_COLUMNS, first, upsertClause(STEP_COLUMNS, ['execution_id', 'step_id']));
const UPSERT_JOURNAL = (first: number) =>
  unnestInsert('journal', JOURNAL_COLUMNS, first, upsertClause(JOURNAL_COLUMNS, ['execution_id', 'seq']));
const UPSERT_CIRCUITS = (first: number) =>
  unnestInsert('circuits', CIRCUIT_COLUMNS, first, upsertClause(CIRCUIT_COLUMNS, ['"key"']));

/**
 * The statements of one segment: at most one for the upserts (CTEs; PostgreSQL checks the
 * foreign keys of steps and journal entries at the end of the statement, so an execution
 * inserted by a sibling CTE counts) and one for the trim.
 */
export function segmentStatements(seg: Segment): Statement[] {
  const parts: string[] = [];
  const values: unknown[] = [];
  let name = 'o8_write';
  const add = (
    flag: string,
    rows: Map<string, unknown[]>,
    columns: number,
    sql: (first: number) => string,
  ) => {
    if (rows.size === 0) return;
    name += flag;
    parts.push(sql(values.length + 1));
    values.push(...toColumns(columns, [...rows.values()]));
  };
  add('e', seg.executions, EXECUTION_COLUMNS.length, UPSERT_EXECUTIONS);
  add('s', seg.steps, STEP_COLUMNS.length, UPSERT_STEPS);
  add('j', seg.journal, JOURNAL_COLUMNS.length, UPSERT_JOURNAL);
  add('c', seg.circuits, CIRCUIT_COLUMNS.length, UPSERT_CIRCUITS);
  const out: Statement[] = [];
  if (parts.length === 1) out.push({ name, text: parts[0]!, values });
  else if (parts.length > 1) {
    const ctes = parts.map((p, i) => `w${i} AS (${p})`).join(', ');
    out.push({ name, text: `WITH ${ctes} SELECT 1`, values });
  }
  if (seg.trim) {
    out.push({
      name: 'o8_trim',
      text: 'DELETE FROM journal WHERE execution_id = $1 AND seq < $2',
      values: [seg.trim.executionId, seg.trim.beforeSeq],
    });
  }
  return out;
}

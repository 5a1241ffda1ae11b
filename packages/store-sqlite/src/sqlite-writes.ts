/**
 * How an engine batch reaches the SQLite tables: as a few multi-row statements (the usual
 * path), or write by write (to name the write that failed).
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { ExecutionRecord, StoreWrite } from '@orchestr8/core';
import type Database from 'libsql';
import { sqliteCode } from './errors.js';
import {
  circuitParams,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  STEP_COLUMNS,
  stepParams,
} from './rows.js';
import type { Statements } from './sqlite-statements.js';

type Param = string | number | null;

/** Journal entries per INSERT statement (8 columns each, well under SQLite's variable limit). */
const JOURNAL_CHUNK = 16;
/** Rows per multi-row statement of a batch: the largest that fits is used, each size prepared once. */
const CHUNKS = [32, 8, 2, 1];
const STEP_WIDTH = STEP_COLUMNS.split(',').length;
/** The EXECUTION_COLUMNS positions of updateExecution's parameters: SET columns, then WHERE. */
const UPDATE_ORDER = [2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 0, 1, 13, 9, 10];
const JOURNAL_WIDTH = JOURNAL_COLUMNS.split(',').length;

export interface BatchWriter {
  /** One write, alone. */
  applyWrite(w: StoreWrite): void;
  /** A batch as multi-row statements (see below). */
  applyBulk(batch: readonly StoreWrite[]): void;
  /** A batch write by write; a write to a missing execution is NOT_FOUND, naming it. */
  applyBatch(batch: readonly StoreWrite[]): void;
}

/** The writer over `s` (the connection's statements); multi-row statements are prepared on first use. */
export function createBatchWriter(s: Statements): BatchWriter {
  // Indexed by row count; a multi-row VALUES list saves a native call per entry.
  const journalStatements: Database.Statement[] = [];
  const stepStatements: Database.Statement[] = [];

  const applyWrite = (w: StoreWrite) => {
    switch (w.kind) {
      case 'execution':
        saveExecution(w.execution);
        return;
      case 'step':
        s.upsertStep.run(stepParams(w.step));
        return;
      case 'journal':
        for (let i = 0; i < w.entries.length; i += JOURNAL_CHUNK) {
          const n = Math.min(JOURNAL_CHUNK, w.entries.length - i);
          const params: Param[] = [];
          for (let k = i; k < i + n; k++) params.push(...journalParams(w.executionId, w.entries[k]!));
          let stmt = journalStatements[n];
          if (!stmt) journalStatements[n] = stmt = s.upsertJournal(n);
          stmt.run(params);
        }
        return;
      case 'journalTrim':
        s.trimJournal.run([w.executionId, w.beforeSeq]);
        return;
      case 'circuit':
        s.upsertCircuit.run(circuitParams(w.circuit));
        return;
      default:
        throw new Orchestr8Error(
          ErrorCode.STORE,
          `unknown store write kind: ${String((w as { kind?: unknown }).kind)}`,
        );
    }
  };

  /** Upserts an execution row: an UPDATE of what changed when it exists as it was created. */
  const saveExecution = (e: ExecutionRecord) => {
    const p = executionParams(e);
    const params: Param[] = [];
    for (const i of UPDATE_ORDER) params.push(p[i] as Param);
    const updated = s.updateExecution.run(params);
    if (updated.changes === 0) s.upsertExecution.run(p);
  };

  /** Runs the rows (flat `params`, `width` per row) through multi-row statements of CHUNKS rows. */
  const upsertRows = (
    params: Param[],
    width: number,
    cache: Database.Statement[],
    prepareRows: (rows: number) => Database.Statement,
  ) => {
    let at = 0;
    while (at < params.length) {
      const left = (params.length - at) / width;
      // The largest chunk that fits (CHUNKS ends with 1).
      const n = CHUNKS.find((c) => c <= left) ?? 1;
      let stmt = cache[n];
      if (!stmt) cache[n] = stmt = prepareRows(n);
      stmt.run(at === 0 && n * width === params.length ? params : params.slice(at, at + n * width));
      at += n * width;
    }
  };

  /**
   * An engine batch as a few multi-row statements: its execution rows in order, then all its
   * step rows, then all its journal entries (of every execution), then trims and circuits.
   * The result is the batch applied in order: rows of one table keep their order (a later
   * upsert of a key wins) and the tables are independent, except that steps and entries need
   * their execution row (written first) and a trim only drops entries older than the ones
   * written after it. One native call per 32 rows instead of one per write.
   */
  const applyBulk = (batch: readonly StoreWrite[]) => {
    const steps: Param[] = [];
    const entries: Param[] = [];
    const rest: StoreWrite[] = [];
    for (const w of batch) {
      if (w.kind === 'execution') saveExecution(w.execution);
      else if (w.kind === 'step') steps.push(...stepParams(w.step));
      else if (w.kind === 'journal') {
        for (const e of w.entries) entries.push(...journalParams(w.executionId, e));
      } else rest.push(w);
    }
    if (steps.length > 0) upsertRows(steps, STEP_WIDTH, stepStatements, s.upsertSteps);
    if (entries.length > 0) upsertRows(entries, JOURNAL_WIDTH, journalStatements, s.upsertJournal);
    for (const w of rest) applyWrite(w);
  };

  /** Applies an engine batch in order; a write to a missing execution is NOT_FOUND, naming it. */
  const applyBatch = (batch: readonly StoreWrite[]) => {
    let current: StoreWrite | undefined;
    try {
      for (const w of batch) {
        current = w;
        applyWrite(w);
      }
    } catch (error) {
      if (sqliteCode(error) === 'SQLITE_CONSTRAINT_FOREIGNKEY' && current) {
        const id =
          current.kind === 'step'
            ? current.step.executionId
            : (current as { executionId: string }).executionId;
        throw new Orchestr8Error(
          ErrorCode.NOT_FOUND,
          `cannot write ${current.kind}: execution ${id} does not exist`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  };

  return { applyWrite, applyBulk, applyBatch };
}

import type { ExecutionResult, JournalEntry, Store } from '@orchestr8/core';
import { failAssertion } from './assertions.js';
import { matchPartial, short } from './match.js';

/**
 * A journal fact a test expects: entries of this `type` (and `stepId`, `attempt`, and a
 * deep partial match of `data`, when given). With `count`, exactly that many; without, at
 * least one.
 */
export interface JournalFact {
  type: string;
  stepId?: string;
  attempt?: number;
  data?: unknown;
  count?: number;
}

export interface JournalView {
  readonly executionId: string;
  readonly entries: readonly JournalEntry[];
  /** Entry types in order, optionally of one step only. */
  types(stepId?: string): string[];
  /** The entries of one step. */
  ofStep(stepId: string): JournalEntry[];
  /** Entries matching a fact (its `count` is ignored). */
  find(fact: Omit<JournalFact, 'count'>): JournalEntry[];
  /** Retries scheduled for a step (its `step.retrying` entries). */
  retries(stepId: string): number;
  /** Whether the journal holds the fact (with its count, when given). */
  has(fact: JournalFact): boolean;
  /** Throws an AssertionError unless the journal holds the fact. */
  expect(fact: JournalFact): JournalView;
}

/** Anything with a store: an engine, a test engine, or a store itself. */
export type JournalSource = Store | { readonly store: Store };

/**
 * The journal of an execution, read from the store:
 * `(await journalOf(engine, result)).retries('fetch')`.
 */
export async function journalOf(
  source: JournalSource,
  execution: ExecutionResult | string,
): Promise<JournalView> {
  const store: Store = 'readJournal' in source ? source : source.store;
  const executionId = typeof execution === 'string' ? execution : execution.executionId;
  const entries: JournalEntry[] = [];
  let after = 0;
  for (;;) {
    const page = await store.readJournal(executionId, { afterSeq: after, limit: 1000 });
    entries.push(...page);
    if (page.length < 1000) break;
    after = page[page.length - 1]!.seq;
  }
  return createJournalView(executionId, entries);
}

export function entryMatches(e: JournalEntry, fact: Omit<JournalFact, 'count'>): boolean {
  if (e.type !== fact.type) return false;
  if (fact.stepId !== undefined && e.stepId !== fact.stepId) return false;
  if (fact.attempt !== undefined && e.attempt !== fact.attempt) return false;
  if (fact.data !== undefined && matchPartial(e.data, fact.data).length > 0) return false;
  return true;
}

/** Describes a fact for messages: `2 × step.retrying (stepId fetch)`. */
export function describeFact(fact: JournalFact): string {
  const where: string[] = [];
  if (fact.stepId !== undefined) where.push(`stepId ${fact.stepId}`);
  if (fact.attempt !== undefined) where.push(`attempt ${fact.attempt}`);
  if (fact.data !== undefined) where.push(`data ${short(fact.data, 60)}`);
  const count = fact.count === undefined ? '' : `${fact.count} × `;
  return `${count}${fact.type}${where.length ? ` (${where.join(', ')})` : ''}`;
}

export function createJournalView(executionId: string, entries: readonly JournalEntry[]): JournalView {
  const view: JournalView = {
    executionId,
    entries,
    types: (stepId) => (stepId === undefined ? entries : view.ofStep(stepId)).map((e) => e.type),
    ofStep: (stepId) => entries.filter((e) => e.stepId === stepId),
    find: (fact) => entries.filter((e) => entryMatches(e, fact)),
    retries: (stepId) => view.find({ type: 'step.retrying', stepId }).length,
    has(fact) {
      const n = view.find(fact).length;
      return fact.count === undefined ? n > 0 : n === fact.count;
    },
    expect(fact) {
      if (!view.has(fact)) {
        const n = view.find(fact).length;
        const context = fact.stepId !== undefined ? view.types(fact.stepId) : view.types();
        failAssertion(
          `journal: expected ${fact.count === undefined ? 'at least one ' : ''}${describeFact(fact)}, found ${n}\n` +
            `  ${fact.stepId !== undefined ? `entries of step ${fact.stepId}` : 'entries'}: ${context.join(', ') || 'none'}`,
          n,
          fact.count ?? '>= 1',
        );
      }
      return view;
    },
  };
  return view;
}

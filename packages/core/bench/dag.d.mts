/** Types of dag.mjs (plain JavaScript so that plain `node` runs it without a TypeScript loader). */
export type Doc = Record<string, unknown>;

export declare const NOOP = '@bench/noop';

export declare function workflowDocument(id: string, steps: unknown[], maxConcurrentSteps: number): Doc;

export declare function fan(n: number, maxConcurrentSteps?: number): Doc;

export interface PlainStep {
  id: string;
  deps: string[];
}

export declare function plainSteps(doc: Doc): PlainStep[];

export declare function runPlainDag(
  steps: readonly PlainStep[],
  agent: (input: unknown) => Promise<unknown>,
): Promise<Map<string, unknown>>;

/** `agent` defaults to handing its input back, resolved. */
export declare function asyncAutoTasks(
  steps: readonly PlainStep[],
  agent?: (input: unknown) => Promise<unknown>,
): Record<string, unknown>;

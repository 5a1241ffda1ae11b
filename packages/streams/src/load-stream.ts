/**
 * Loading a stream document: parsed and reported like workflows (every problem, each with
 * a code and line:column), then compiled into the form the processor runs.
 */
import {
  checkDocumentObject,
  closest,
  createJsonSchemaCheck,
  type Diagnostic,
  type DocumentLoadResult,
  type DocumentProblem,
  jsonSchemaProblems,
  loadDocument,
  loadDocumentFile,
  parseDuration,
  validateWorkflowObject,
} from '@orchestr8/schema';
import {
  type BacklogPolicy,
  type CrewDocument,
  type CrewErrorPolicy,
  type MergePolicy,
  PATTERN_TEXT,
  STREAM_JSON_SCHEMA,
  type StreamDocument,
} from './stream-schema.js';

/** Stable codes of stream document problems (besides the workflow loader's E_PARSE, E_SCHEMA, ...). */
export const StreamDiagnosticCode = {
  /** Two crews have the same id. */
  DUPLICATE_CREW: 'E_DUPLICATE_CREW',
  /** `dependsOn` names a crew that does not exist (or the crew itself). */
  UNKNOWN_CREW: 'E_UNKNOWN_CREW',
  /** Crews depend on each other in a cycle. */
  CREW_CYCLE: 'E_CREW_CYCLE',
  /** A crew's `on` names an event kind the stream does not declare. */
  UNKNOWN_KIND: 'E_UNKNOWN_KIND',
  /** A crew has neither or both of `workflow` and `steps`, or its workflow or steps are invalid. */
  CREW_WORKFLOW: 'E_CREW_WORKFLOW',
  /** An event payload schema is not a valid JSON Schema. */
  PAYLOAD_SCHEMA: 'E_PAYLOAD_SCHEMA',
  /** An initial context value does not suit its key's merge policy. */
  CONTEXT: 'E_CONTEXT',
} as const;

/** A crew's time limit per slice when it sets none. */
export const DEFAULT_CREW_TIMEOUT_MS = 10_000;

export const DEFAULT_LIMITS = {
  maxEventBytes: 65_536,
  maxActionBytes: 65_536,
  maxEventsPerSlice: 10_000,
  maxActionsPerCrew: 100,
  maxContextBytes: 262_144,
} as const;

export type StreamLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

export interface CompiledCrew {
  id: string;
  /** Position in the document: later crews win ties between writes. */
  index: number;
  on: ReadonlySet<string>;
  dependsOn: readonly string[];
  timeoutMs: number;
  onError: CrewErrorPolicy;
  /** The workflow document to run, or the id to resolve. */
  workflow: { document: Record<string, unknown> } | { id: string };
  /** With a step list and no outputs: the step whose output is the crew's result. */
  resultStep?: string;
}

export interface CompiledStream {
  document: StreamDocument;
  id: string;
  sliceMs: number;
  epochMs: number;
  /** Payload checks by kind (undefined: any payload). */
  kinds: ReadonlyMap<string, ((payload: unknown) => DocumentProblem[]) | undefined>;
  keyPolicies: Readonly<Record<string, MergePolicy>>;
  initialContext: Record<string, unknown>;
  actionTtlMs: number;
  backlog: BacklogPolicy;
  limits: StreamLimits;
  /** In document order. */
  crews: readonly CompiledCrew[];
  /** A dependency order (document order among crews free to go first). */
  order: readonly CompiledCrew[];
}

export interface StreamLoadResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  stream?: CompiledStream;
}

let schemaCheck: ReturnType<typeof createJsonSchemaCheck> | undefined;

function problem(code: string, pointer: string, message: string, hint?: string): DocumentProblem {
  return { code, severity: 'error', message, pointer, ...(hint ? { hint } : {}) };
}

/** Wraps a step list into a workflow document of its own. */
function stepsWorkflow(streamId: string, crew: CrewDocument): Record<string, unknown> {
  return {
    version: '1.0.0',
    metadata: { id: `${streamId}.${crew.id}`, description: `crew ${crew.id} of stream ${streamId}` },
    steps: crew.steps,
    ...(crew.outputs ? { outputs: crew.outputs } : {}),
  };
}

function checkCrewWorkflow(doc: Record<string, unknown>, at: string, under: string): DocumentProblem[] {
  const r = validateWorkflowObject(doc);
  return r.diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity,
    message: `crew workflow: ${d.message}`,
    pointer: `${at}${d.pointer.startsWith(under) ? d.pointer.slice(under.length) : d.pointer}`,
    ...(d.hint ? { hint: d.hint } : {}),
    // The workflow loader places an unknown field at its key; its pointer names the key.
    ...(d.message.startsWith('unknown field') ? { atKey: true } : {}),
  }));
}

/** Node runs a timer of more than 2^31-1 ms (24.8 days) at once: slices and crew timeouts are timers. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Durations the pattern lets through but the processor cannot time: under 1 ms, over 24.8 days. */
function timerProblems(doc: StreamDocument): DocumentProblem[] {
  const out: DocumentProblem[] = [];
  const check = (v: string | number | undefined, pointer: string) => {
    if (v === undefined) return;
    const ms = parseDuration(v);
    if (ms < 1 || ms > MAX_TIMER_MS)
      out.push(problem('E_SCHEMA', pointer, 'must be a duration from 1ms to 24 days (2147483647 ms)'));
  };
  check(doc.slice, '/slice');
  for (const [i, c] of doc.crews.entries()) check(c.timeout, `/crews/${i}/timeout`);
  return out;
}

/** "did you mean" when a name looks like a misspelling of one of `known`, else the list. */
function nameHint(name: string, known: readonly string[], what: string): string {
  const guess = closest(name, known);
  if (guess) return `did you mean "${guess}"?`;
  return known.length > 0 ? `${what}: ${known.join(', ')}` : `no ${what}`;
}

/**
 * Whether the parts the reference checks read are usable even when the schema found
 * problems: `events` an object, `crews` a list of objects with string ids and lists of
 * names. Then every problem is reported in one run, references with the schema's.
 */
function referencesUsable(value: unknown): value is StreamDocument {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  const names = (x: unknown) =>
    x === undefined || (Array.isArray(x) && x.every((n) => typeof n === 'string'));
  return (
    typeof v.events === 'object' &&
    v.events !== null &&
    !Array.isArray(v.events) &&
    Array.isArray(v.crews) &&
    v.crews.every(
      (c) =>
        typeof c === 'object' &&
        c !== null &&
        typeof (c as CrewDocument).id === 'string' &&
        Array.isArray((c as CrewDocument).on) &&
        names((c as CrewDocument).on) &&
        names((c as CrewDocument).dependsOn),
    )
  );
}

/** Crews' ids, the kinds they name and the crews they depend on. */
function referenceProblems(doc: StreamDocument): DocumentProblem[] {
  const out: DocumentProblem[] = [];
  const ids = new Map<string, number>();
  doc.crews.forEach((c, i) => {
    if (ids.has(c.id))
      out.push(problem(StreamDiagnosticCode.DUPLICATE_CREW, `/crews/${i}/id`, `duplicate crew id "${c.id}"`));
    else ids.set(c.id, i);
  });
  const kinds = Object.keys(doc.events);
  doc.crews.forEach((c, i) => {
    c.on.forEach((k, j) => {
      if (!(k in doc.events))
        out.push(
          problem(
            StreamDiagnosticCode.UNKNOWN_KIND,
            `/crews/${i}/on/${j}`,
            `event kind "${k}" is not declared in events`,
            nameHint(k, kinds, 'declared'),
          ),
        );
    });
    (c.dependsOn ?? []).forEach((d, j) => {
      if (!ids.has(d) || d === c.id)
        out.push(
          d === c.id
            ? problem(
                StreamDiagnosticCode.UNKNOWN_CREW,
                `/crews/${i}/dependsOn/${j}`,
                `crew "${c.id}" depends on itself`,
              )
            : problem(
                StreamDiagnosticCode.UNKNOWN_CREW,
                `/crews/${i}/dependsOn/${j}`,
                `no crew "${d}"`,
                nameHint(
                  d,
                  [...ids.keys()].filter((id) => id !== c.id),
                  'crews',
                ),
              ),
        );
    });
  });
  const cycle = findCycle(doc.crews);
  if (cycle) {
    const i = ids.get(cycle[0]!)!;
    out.push(
      problem(
        StreamDiagnosticCode.CREW_CYCLE,
        `/crews/${i}/dependsOn`,
        `crews depend on each other in a cycle: ${cycle.join(' -> ')}`,
      ),
    );
  }
  return out;
}

function semantics(doc: StreamDocument): DocumentProblem[] {
  const out: DocumentProblem[] = [...timerProblems(doc), ...referenceProblems(doc)];
  doc.crews.forEach((c, i) => {
    const has = Number(c.workflow !== undefined) + Number(c.steps !== undefined);
    if (has !== 1) {
      out.push(
        problem(
          StreamDiagnosticCode.CREW_WORKFLOW,
          `/crews/${i}`,
          `crew "${c.id}" needs exactly one of workflow and steps`,
        ),
      );
    } else if (c.outputs !== undefined && c.steps === undefined) {
      out.push(
        problem(
          StreamDiagnosticCode.CREW_WORKFLOW,
          `/crews/${i}/outputs`,
          'outputs go with steps; an inline workflow has its own outputs',
        ),
      );
    } else if (typeof c.workflow === 'object') {
      out.push(...checkCrewWorkflow(c.workflow, `/crews/${i}/workflow`, ''));
    } else if (c.steps) {
      out.push(...checkCrewWorkflow(stepsWorkflow(doc.id, c), `/crews/${i}`, ''));
    }
  });
  for (const [kind, spec] of Object.entries(doc.events)) {
    if (spec.payload === undefined || typeof spec.payload === 'boolean') continue;
    for (const p of jsonSchemaProblems(spec.payload))
      out.push(
        problem(
          StreamDiagnosticCode.PAYLOAD_SCHEMA,
          `/events/${kind}/payload`,
          `invalid payload schema: ${p}`,
        ),
      );
  }
  for (const [key, value] of Object.entries(doc.context?.initial ?? {})) {
    const policy = doc.context?.keys?.[key] ?? 'lww';
    if (policy === 'counter' && typeof value !== 'number')
      out.push(
        problem(
          StreamDiagnosticCode.CONTEXT,
          `/context/initial/${key}`,
          `"${key}" is a counter: its initial value must be a number`,
        ),
      );
    if (policy === 'union' && !Array.isArray(value))
      out.push(
        problem(
          StreamDiagnosticCode.CONTEXT,
          `/context/initial/${key}`,
          `"${key}" is a union: its initial value must be an array`,
        ),
      );
  }
  return out;
}

function findCycle(crews: readonly CrewDocument[]): string[] | undefined {
  const deps = new Map(crews.map((c) => [c.id, c.dependsOn ?? []]));
  const state = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 2 || !deps.has(id)) return undefined;
    if (state.get(id) === 1) return [...path.slice(path.indexOf(id)), id];
    state.set(id, 1);
    path.push(id);
    for (const d of deps.get(id)!) {
      if (d === id) continue;
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const c of crews) {
    const found = visit(c.id);
    if (found) return found;
  }
  return undefined;
}

function check(value: unknown): DocumentProblem[] {
  schemaCheck ??= createJsonSchemaCheck(STREAM_JSON_SCHEMA, PATTERN_TEXT);
  const schemaProblems = schemaCheck(value);
  if (schemaProblems.length > 0)
    return referencesUsable(value) ? [...schemaProblems, ...referenceProblems(value)] : schemaProblems;
  return semantics(value as StreamDocument);
}

export interface StreamLoadOptions {
  /**
   * Whether a workflow a crew names by id (`workflow: <id>`) can be found, as the host will
   * resolve it: one that cannot is reported at its crew, with its position, instead of
   * failing when the stream starts.
   */
  workflowExists?: (id: string) => boolean;
}

/** `exists(id)`; a lookup that throws counts as not found (loading never throws). */
function found(exists: (id: string) => boolean, id: string): boolean {
  try {
    return exists(id);
  } catch {
    return false;
  }
}

/**
 * `check`, and with `workflowExists`, the crews' workflows named by id: checked whenever a
 * crew's `workflow` is a string, whatever else is wrong with the document, so every problem
 * is reported in one run (the loader sorts them by position).
 */
function checkWith(exists: StreamLoadOptions['workflowExists']): (value: unknown) => DocumentProblem[] {
  if (!exists) return check;
  return (value) => {
    const out = check(value);
    const crews = (value as { crews?: unknown } | null)?.crews;
    if (!Array.isArray(crews)) return out;
    crews.forEach((c: unknown, i) => {
      const { id, workflow } = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
      const at = `/crews/${i}/workflow`;
      // A malformed id has its schema problem there already.
      if (typeof workflow !== 'string' || out.some((p) => p.pointer === at)) return;
      if (found(exists, workflow)) return;
      out.push(
        problem(
          StreamDiagnosticCode.CREW_WORKFLOW,
          at,
          `${typeof id === 'string' ? `crew "${id}"` : `crew ${i}`}: no workflow "${workflow}"`,
          'the orchestr8 CLI looks for <id>.yaml, .yml or .json next to the stream document, then in ./workflows',
        ),
      );
    });
    return out;
  };
}

function compile(doc: StreamDocument): CompiledStream {
  const sliceMs = parseDuration(doc.slice);
  const epochMs = typeof doc.epoch === 'string' ? Date.parse(doc.epoch) : (doc.epoch ?? 0);
  const kinds = new Map<string, ((payload: unknown) => DocumentProblem[]) | undefined>();
  for (const [kind, spec] of Object.entries(doc.events)) {
    const schema = spec.payload;
    if (schema === undefined || schema === true) kinds.set(kind, undefined);
    else if (schema === false)
      kinds.set(kind, () => [problem('E_SCHEMA', '/payload', 'no payload is allowed')]);
    else {
      const c = createJsonSchemaCheck(schema);
      kinds.set(kind, (payload) => c(payload, '/payload'));
    }
  }
  const crews: CompiledCrew[] = doc.crews.map((c, index) => {
    const steps = c.steps as { id: string }[] | undefined;
    const crew: CompiledCrew = {
      id: c.id,
      index,
      on: new Set(c.on),
      dependsOn: c.dependsOn ?? [],
      timeoutMs: c.timeout === undefined ? DEFAULT_CREW_TIMEOUT_MS : parseDuration(c.timeout),
      onError: c.onError ?? 'continue',
      workflow:
        typeof c.workflow === 'string'
          ? { id: c.workflow }
          : { document: c.workflow ?? stepsWorkflow(doc.id, c) },
    };
    if (steps && !c.outputs) crew.resultStep = steps[steps.length - 1]!.id;
    return crew;
  });
  return {
    document: doc,
    id: doc.id,
    sliceMs,
    epochMs,
    kinds,
    keyPolicies: { ...(doc.context?.keys ?? {}) },
    initialContext: structuredClone(doc.context?.initial ?? {}),
    actionTtlMs: doc.actions?.ttl === undefined ? 60_000 : parseDuration(doc.actions.ttl),
    backlog: doc.backlog ?? 'queue',
    limits: { ...DEFAULT_LIMITS, ...(doc.limits ?? {}) },
    crews,
    order: dependencyOrder(crews),
  };
}

/** Kahn's algorithm, taking ready crews in document order: deterministic. */
function dependencyOrder(crews: readonly CompiledCrew[]): CompiledCrew[] {
  const done = new Set<string>();
  const out: CompiledCrew[] = [];
  while (out.length < crews.length) {
    const next = crews.find((c) => !done.has(c.id) && c.dependsOn.every((d) => done.has(d)));
    if (!next) break; // a cycle: refused by the semantic checks before compiling
    done.add(next.id);
    out.push(next);
  }
  return out;
}

function toResult(r: DocumentLoadResult): StreamLoadResult {
  const out: StreamLoadResult = { ok: r.ok, diagnostics: r.diagnostics };
  if (r.ok) out.stream = compile(r.value as StreamDocument);
  return out;
}

/** Loads a stream document from JSON or YAML text. Never throws: every problem is a diagnostic. */
export function loadStream(
  text: string,
  options: { filename?: string } & StreamLoadOptions = {},
): StreamLoadResult {
  const { workflowExists, ...rest } = options;
  return toResult(loadDocument(text, { ...rest, check: checkWith(workflowExists) }));
}

/** Reads and loads a stream document file. */
export async function loadStreamFile(
  path: string,
  options: StreamLoadOptions = {},
): Promise<StreamLoadResult> {
  return toResult(await loadDocumentFile(path, { check: checkWith(options.workflowExists) }));
}

/** Validates and compiles a stream document that arrived already parsed (pointers, no positions). */
export function validateStreamObject(value: unknown): StreamLoadResult {
  return toResult(checkDocumentObject(value, check));
}

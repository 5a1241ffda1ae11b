import { escapePointerSegment, parsePointer, toPointer } from './diagnostics.js';
import { STEP_ID_PATTERN } from './patterns.js';
import { schemaErrors } from './schema-validator.js';

/**
 * The part of a document that is not malformed, so that the semantic checks can still run on
 * it and one run reports every problem, like a compiler. Each value the schema rejects is
 * removed (a copy is changed, not the document): an unknown field; a malformed value, or
 * the object holding it when it was required there (an item of a list takes the whole list).
 * A malformed step becomes a stub with its id, which other steps may still name; a missing or
 * malformed version or metadata.id gets a placeholder (only the compiled workflow reads them,
 * and a document with schema problems compiles to none). When the document's shape itself is
 * wrong (the root, `metadata`, `steps`, or a step's id), there is no usable part.
 */
export interface WellFormedPart {
  value: unknown;
  /** Pointers of unknown fields removed. */
  unknown: string[];
  /** Pointers of malformed values removed, or of steps made stubs. */
  pruned: string[];
}

/** Without these, nothing is checkable. */
const ANCHORS: ReadonlySet<string> = new Set(['', '/metadata', '/steps']);
const PLACEHOLDERS: ReadonlyMap<string, string> = new Map([
  ['/version', '1.0.0'],
  ['/metadata/id', 'workflow'],
]);
/** Removing a value can leave its parent without a required field: a few rounds walk up. */
const MAX_ROUNDS = 5;

type Node = Record<string, unknown> | unknown[];

function nodeAt(root: unknown, segs: readonly string[]): unknown {
  let node = root;
  for (const seg of segs) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, seg)) return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node;
}

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null;
}

/**
 * Removes the malformed value at `segs` (or what holds it); returns the pointer removed,
 * null when it was already gone, undefined when the document has no usable part.
 */
function prune(root: Node, start: readonly string[]): string | null | undefined {
  let segs = start;
  if (segs.length > 0 && nodeAt(root, segs) === undefined) return null;
  for (;;) {
    const at = toPointer(segs);
    const parent = nodeAt(root, segs.slice(0, -1));
    const last = segs[segs.length - 1]!;
    const placeholder = PLACEHOLDERS.get(at);
    if (placeholder !== undefined && isNode(parent) && !Array.isArray(parent)) {
      parent[last] = placeholder;
      return at;
    }
    if (segs.length === 3 && segs[0] === 'steps' && segs[2] === 'id') {
      segs = segs.slice(0, 2);
      continue;
    }
    if (segs.length === 2 && segs[0] === 'steps' && Array.isArray(parent)) {
      const id = (nodeAt(root, segs) as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string' || !STEP_ID_PATTERN.test(id)) return undefined;
      // A step that waits a second: it calls no agent and reads nothing.
      parent[Number(last)] = { id, wait: { timer: '1s' } };
      return at;
    }
    if (ANCHORS.has(at) || !isNode(parent)) return undefined;
    if (Array.isArray(parent)) {
      // Removing an item would shift the pointers of the items after it.
      segs = segs.slice(0, -1);
      continue;
    }
    delete parent[last];
    return at;
  }
}

/** The well-formed part of `value`, or undefined when its shape is wrong (see above). */
export function wellFormedPart(value: unknown): WellFormedPart | undefined {
  let errors = schemaErrors(value);
  if (errors.length === 0) return { value, unknown: [], pruned: [] };
  if (!isNode(value) || Array.isArray(value)) return undefined;
  const copy = structuredClone(value) as Node;
  const unknown: string[] = [];
  const pruned: string[] = [];
  for (let round = 0; round < MAX_ROUNDS && errors.length > 0; round++) {
    for (const e of errors) {
      const segs = parsePointer(e.instancePath);
      if (e.keyword === 'required') {
        const name = String((e.params as { missingProperty: unknown }).missingProperty);
        const placeholder = PLACEHOLDERS.get(`${e.instancePath}/${escapePointerSegment(name)}`);
        const node = nodeAt(copy, segs);
        if (placeholder !== undefined && isNode(node) && !Array.isArray(node)) {
          node[name] = placeholder;
          pruned.push(`${e.instancePath}/${escapePointerSegment(name)}`);
          continue;
        }
      }
      if (e.keyword === 'additionalProperties') {
        const name = String((e.params as { additionalProperty: unknown }).additionalProperty);
        const node = nodeAt(copy, segs);
        if (!isNode(node) || !Object.hasOwn(node, name)) continue;
        delete (node as Record<string, unknown>)[name];
        unknown.push(`${e.instancePath}/${escapePointerSegment(name)}`);
        continue;
      }
      const at = prune(copy, segs);
      if (at === undefined) return undefined;
      if (at !== null && !pruned.includes(at)) pruned.push(at);
    }
    errors = schemaErrors(copy);
  }
  return errors.length === 0 ? { value: copy, unknown, pruned } : undefined;
}

import { compileExpression, lookupPath, type PathSegment, type TemplateScope } from '@orchestr8/schema';
import type { WaitCorrelation, WaitEvent, WaitIndexKey, WaitRecord } from './waits.js';

/**
 * The event index of pending waits. A `match` such as `event.payload.orderId == inputs.orderId`
 * pins the events a wait can take to one value at one path; the wait is indexed under
 * (event name, path, value) and an event looks up only the waits under the values it carries,
 * plus the waits without a key. 10,000 executions waiting for `payment` with their own order
 * id cost an event a few index lookups, not a scan. The index only narrows: every candidate
 * is still checked against its full condition, so a key must never exclude a wait the
 * condition would accept (conditions with `or`, or an equality the analysis does not
 * recognise, get no key).
 */

const NAME = /^event(?:\.(?:[A-Za-z_$][\w$]*|\d+))+$/;
const KEYWORDS = new Set(['and', 'or', 'not', 'if', 'then', 'else', 'in', 'of']);
const RELATIONS = new Set(['==', '!=', '<', '<=', '>', '>=', '~=']);

interface Token {
  text: string;
  start: number;
  end: number;
  depth: number;
  kind: 'word' | 'op' | 'other';
}

/** Top-level tokens of a filtrex expression: words, relational operators, the rest (strings, parens). */
function tokens(src: string): Token[] | undefined {
  const out: Token[] = [];
  let depth = 0;
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) return undefined;
      out.push({ text: src.slice(i, j + 1), start: i, end: j + 1, depth, kind: 'other' });
      i = j + 1;
    } else if (c === '(' || c === ')') {
      if (c === ')') depth--;
      if (depth < 0) return undefined;
      out.push({ text: c, start: i, end: i + 1, depth, kind: 'other' });
      if (c === '(') depth++;
      i++;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][\w$]*(?:\.(?:[A-Za-z_$][\w$-]*|\d+))*/.exec(src.slice(i))!;
      out.push({ text: m[0], start: i, end: i + m[0].length, depth, kind: 'word' });
      i += m[0].length;
    } else {
      const op = ['==', '!=', '<=', '>=', '~=', '<', '>'].find((o) => src.startsWith(o, i));
      const text = op ?? c;
      out.push({ text, start: i, end: i + text.length, depth, kind: op ? 'op' : 'other' });
      i += text.length;
    }
  }
  return depth === 0 ? out : undefined;
}

function unwrapTemplate(source: string): string {
  const t = source.trim();
  return t.startsWith('${') && t.endsWith('}') && t.indexOf('${', 2) === -1 ? t.slice(2, -1).trim() : t;
}

/**
 * The key a condition pins an event to: a top-level conjunct `event.<path> == <expr>` (either
 * way round) whose other side does not read the event, evaluated now in the wait's scope.
 * Undefined when the condition has a top-level `or` or conditional, or no such conjunct, or
 * the value is not a string, finite number or boolean.
 */
export function correlationOf(match: string, scope: TemplateScope): WaitCorrelation | undefined {
  const src = unwrapTemplate(match);
  const all = tokens(src);
  if (all === undefined) return undefined;
  const top = all.filter((t) => t.depth === 0);
  if (top.some((t) => t.kind === 'word' && (t.text === 'or' || t.text === 'if' || t.text === 'then')))
    return undefined;
  // Conjuncts: the text between top-level `and`s.
  const bounds: [number, number][] = [];
  let from = 0;
  for (const t of top)
    if (t.kind === 'word' && t.text === 'and') {
      bounds.push([from, t.start]);
      from = t.end;
    }
  bounds.push([from, src.length]);
  for (const [a, b] of bounds) {
    const c = conjunctKey(src.slice(a, b).trim(), scope);
    if (c !== undefined) return c;
  }
  return undefined;
}

function conjunctKey(text: string, scope: TemplateScope): WaitCorrelation | undefined {
  const ts = tokens(text);
  if (ts === undefined) return undefined;
  const top = ts.filter((t) => t.depth === 0);
  const rels = top.filter((t) => t.kind === 'op' && RELATIONS.has(t.text));
  if (rels.length !== 1 || rels[0]!.text !== '==') return undefined;
  if (top.some((t) => t.kind === 'word' && KEYWORDS.has(t.text))) return undefined;
  const eq = rels[0]!;
  const left = text.slice(0, eq.start).trim();
  const right = text.slice(eq.end).trim();
  const [name, other] = NAME.test(left) ? [left, right] : NAME.test(right) ? [right, left] : [];
  if (name === undefined || other === undefined || other === '') return undefined;
  let value: unknown;
  try {
    const expr = compileExpression(other);
    if (expr.refs.some((r) => r.root === 'event')) return undefined;
    value = expr.evaluate(scope);
  } catch {
    return undefined;
  }
  const encoded = encodeKey(value);
  if (encoded === undefined) return undefined;
  return { path: name.slice('event.'.length), value: encoded };
}

/** A scalar's key text; undefined for anything `==` cannot equal by value. */
function encodeKey(v: unknown): string | undefined {
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'number' && Number.isFinite(v)) return JSON.stringify(v);
  return undefined;
}

const pathCache = new Map<string, PathSegment[]>();

/** The key text of what an event carries at `path` (as `event.<path>` reads it), if a scalar. */
export function eventKeyValue(e: WaitEvent, path: string): string | undefined {
  let segs = pathCache.get(path);
  if (segs === undefined) {
    segs = path.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    if (pathCache.size < 1000) pathCache.set(path, segs);
  }
  const [head, ...rest] = segs;
  // Only what eventView exposes: name, id, payload, receivedAt (ISO text).
  let root: unknown;
  if (head === 'name') root = e.name;
  else if (head === 'id') root = e.id;
  else if (head === 'payload') root = e.payload;
  else if (head === 'receivedAt') root = new Date(e.receivedAt).toISOString();
  else return undefined;
  return encodeKey(rest.length === 0 ? root : lookupPath(root, rest));
}

/** Where a pending wait sits in the event index: one entry per event it listens for. */
export function waitIndexKeys(w: WaitRecord): WaitIndexKey[] {
  if (w.state !== 'pending' || w.events === undefined) return [];
  const out: WaitIndexKey[] = [];
  const seen = new Set<string>();
  w.events.forEach((name, i) => {
    // kind all: an event already received needs no more deliveries.
    if (w.received?.[i] != null) return;
    const c = w.correlations?.[i];
    const k = { name, path: c?.path ?? '', value: c?.value ?? '' };
    const id = `${k.name}\0${k.path}\0${k.value}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push(k);
  });
  return out;
}

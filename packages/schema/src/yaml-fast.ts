/**
 * The fast YAML parse: js-yaml, configured to give exactly what the position-keeping `yaml`
 * parse gives for the documents it accepts, and to decline the rest. The `yaml` package
 * builds a node tree with source ranges, which costs ~15x a plain parse; those ranges are
 * needed only to say where a problem is. So a document is parsed here first, and the
 * `yaml` parse runs only when there is something to report (see `parseYamlText`).
 *
 * "Exactly the same value" is kept by construction and by declining:
 * - Scalars resolve with the YAML 1.2 core schema's own rules, copied from the `yaml`
 *   package (null, true/false, 0o octal, 0x hex, floats, .inf/.nan): `yes`, `on`, `1_000`,
 *   `0b1`, `012`-as-octal and timestamps stay strings, as they do there. js-yaml's wider
 *   default schema is not used.
 * - Anything with a tag (`!!str`, `!foo`, `!`), an anchor or alias (the alias limit is the
 *   other parse's to enforce), a merge key `<<`, a directive (`%YAML 1.1` changes the
 *   schema), an explicit key `?`, several documents, a duplicate key, a null or non-string
 *   key, or any syntax js-yaml refuses: declined, so the `yaml` parse decides and reports.
 * Declining is always safe (it only costs time); the tests compare both parses on every
 * fixture and on a list of unusual documents.
 */
import type * as JsYaml from 'js-yaml';
import { jsYamlModule } from './lazy-modules.js';

/** What the fast parse returns when it declines the document. */
export const DECLINED: unique symbol = Symbol('declined');

/**
 * Marks a YAML null while parsing: js-yaml turns keys into strings with `String(key)`, so a
 * null key would become "null" (the `yaml` package makes it ""); the marker shows such keys.
 */
const NULL_KEY = '\u0000orchestr8-null-key';
// A tag of its own, so js-yaml's key conversion calls its toString (a plain object's would be "[object Object]").
const NULL = { [Symbol.toStringTag]: 'YamlNull', toString: () => NULL_KEY };

// The `yaml` package's core schema (yaml/dist/schema/core), in its order of resolution.
const CORE_RULES: [RegExp, (s: string) => unknown][] = [
  [/^(?:~|[Nn]ull|NULL)?$/, () => NULL],
  [/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === 't' || s[0] === 'T'],
  [/^0o[0-7]+$/, (s) => Number.parseInt(s.slice(2), 8)],
  [/^[-+]?[0-9]+$/, (s) => Number.parseInt(s, 10)],
  [/^0x[0-9a-fA-F]+$/, (s) => Number.parseInt(s.slice(2), 16)],
  [
    /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
    (s) =>
      s.slice(-3).toLowerCase() === 'nan'
        ? Number.NaN
        : s[0] === '-'
          ? Number.NEGATIVE_INFINITY
          : Number.POSITIVE_INFINITY,
  ],
  [/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/, Number.parseFloat],
  [/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/, Number.parseFloat],
];
/**
 * The rules a plain scalar can match, by its first character (in CORE_RULES order): a key
 * like `name` or `timeout` is tried against the null or boolean rule only, not all eight.
 * A character with no entry starts a string.
 */
const RULES_BY_FIRST: (typeof CORE_RULES)[] = [];
for (const [first, rules] of [
  ['~nN', [0]],
  ['tTfF', [1]],
  ['0123456789', [2, 3, 4, 6, 7]],
  ['+-', [3, 5, 6, 7]],
  ['.', [5, 6, 7]],
] as const) {
  for (const c of first) RULES_BY_FIRST[c.charCodeAt(0)] = rules.map((i) => CORE_RULES[i]!);
}

/** Set by a resolution, taken by the construction that js-yaml calls right after it. */
let resolved: unknown;
/** How many nulls the current parse made (the walk that restores them runs only if any, or when deep). */
let nulls = 0;

let core: JsYaml.Schema | undefined;

/**
 * One implicit type for all of the core schema, so a plain string (most scalars) costs one
 * first-character test. Its tag is private: an explicit `!!int` is an unknown tag, declined.
 * Built with js-yaml, on the first YAML parse.
 */
function coreSchema(jsyaml: typeof JsYaml): JsYaml.Schema {
  core ??= new jsyaml.Schema({
    implicit: [
      new jsyaml.Type('tag:orchestr8.dev,2026:core-scalar', {
        kind: 'scalar',
        resolve: (s: string | null) => {
          // js-yaml gives an empty plain scalar as null before asking the types.
          if (s === null) {
            resolved = NULL;
            nulls++;
            return true;
          }
          // The empty scalar is null (the first rule).
          const rules = s.length === 0 ? CORE_RULES : RULES_BY_FIRST[s.charCodeAt(0)];
          if (rules === undefined) return false;
          for (let i = 0; i < rules.length; i++) {
            const [test, make] = rules[i]!;
            if (test.test(s)) {
              resolved = make(s);
              if (resolved === NULL) nulls++;
              return true;
            }
          }
          return false;
        },
        construct: () => resolved,
      }),
    ],
  });
  return core;
}

/**
 * Constructs the fast parse does not take: a directive line; a tag at the start of a token
 * (`!`, `!!x`, `!x`, `!<...>`; not `!=` in an expression); an anchor `&a`; a merge key `<<`;
 * an explicit key `? `; a flow collection as a key (`[a, b]: c`; js-yaml and `yaml` turn it
 * into different strings), but not the `}` of a `${...}` template before a colon.
 * Over-matching (the same characters inside a string) only declines.
 */
const UNUSUAL =
  /^%|(?:^|[\s[{,])(?:![^\s=]|!(?=[\s,\]}]|$)|&[^\s,[\]{}]|\?(?=\s|$))|<<|[\]}](?<!\$\{[^{}\n]*\})[ \t]*:(?=\s|$)/m;

/**
 * Where js-yaml and `yaml` read the same text differently, or only one refuses it: an empty
 * key in a flow collection (`{: b}`: js-yaml's key is "null", `yaml`'s ""); a carriage return
 * not followed by a line feed (a line break to `yaml`); a line starting with a tab (`yaml`
 * refuses tabs as indentation). Declined.
 */
const DIVERGENT = /[[{,][ \t]*:(?=[\s,\]}]|$)|\r(?!\n)|^\t/m;

/** `yaml` refuses implicit keys over 1024 characters; js-yaml takes them. Lines that long decline. */
const MAX_LINE = 1024;

const NEWLINE = 1;
const HASH = 2;
const QUOTE = 3;
const OPEN = 4;
const CLOSE = 5;
/** What spansLines does at each ASCII character (0: nothing). */
const SCAN_KIND = new Uint8Array(128);
SCAN_KIND[10] = NEWLINE;
SCAN_KIND[35] = HASH;
SCAN_KIND[34] = SCAN_KIND[39] = QUOTE;
SCAN_KIND[91] = SCAN_KIND[123] = OPEN;
SCAN_KIND[93] = SCAN_KIND[125] = CLOSE;
/** Characters after which a quote opens a scalar and `#` a comment: space, tab, newline, `[{,:-`. */
const AFTER = new Uint8Array(128);
for (const c of ' \t\n[{,:-') AFTER[c.charCodeAt(0)] = 1;

/**
 * Whether a line is longer than `MAX_LINE`, or a quoted scalar or a flow collection goes on
 * past the end of its line: `yaml` holds their continuation lines to the indentation rules,
 * js-yaml does not, so such documents are the `yaml` parse's. The scan tokenises roughly
 * (a quote opens a scalar after a space, an indicator or a line start; `#` after a space
 * starts a comment); where it errs it sees a multi-line construct that is not, and declines.
 * A quoted scalar or a flow collection followed at once by `#` declines too (`yaml` wants a
 * space before a comment; js-yaml does not).
 */
function spansLines(text: string): boolean {
  let flow = 0;
  let lineStart = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    // Most characters are none of the few below: one table read each.
    const kind = c < 128 ? SCAN_KIND[c]! : 0;
    if (kind === 0) continue;
    if (kind === NEWLINE) {
      if (flow > 0 || i - lineStart > MAX_LINE) return true;
      lineStart = i + 1;
      continue;
    }
    if (kind === OPEN) {
      flow++;
      continue;
    }
    if (kind === CLOSE) {
      if (flow > 0) {
        flow--;
        if (text.charCodeAt(i + 1) === 35) return true;
      }
      continue;
    }
    // `#` or a quote: they count only after a space, an indicator or a line start.
    const prev = i > 0 ? text.charCodeAt(i - 1) : 10;
    if (prev >= 128 || !AFTER[prev]) continue;
    if (kind === HASH) {
      while (i + 1 < n && text.charCodeAt(i + 1) !== 10) i++;
      continue;
    }
    for (i++; i < n; i++) {
      const q = text.charCodeAt(i);
      if (q === 10) return true;
      if (c === 34 && q === 92) i++;
      else if (q === c) {
        if (c === 39 && text.charCodeAt(i + 1) === 39) i++;
        else break;
      }
    }
    if (text.charCodeAt(i + 1) === 35) return true;
  }
  return flow > 0 || n - lineStart > MAX_LINE;
}

/**
 * The parsed value, or `DECLINED` when the `yaml` parse must decide. Never throws. Nesting
 * deeper than `maxDepth` (objects and arrays, the root at depth 1) is declined.
 */
export function parseYamlFast(text: string, maxDepth = 64): unknown {
  if (UNUSUAL.test(text) || DIVERGENT.test(text) || spansLines(text)) return DECLINED;
  let value: unknown;
  nulls = 0;
  depthLimit = maxDepth;
  tooDeep = false;
  deepest = 0;
  try {
    // js-yaml 4.3's maxDepth (not in its types) counts scalars as a level too: it only stops
    // absurd nesting early, before its recursion goes deep; the listener finds the exact depth.
    const jsyaml = jsYamlModule();
    const options: JsYaml.LoadOptions & { maxDepth: number } = {
      schema: coreSchema(jsyaml),
      maxDepth: maxDepth + 2,
      listener: onNode as unknown as JsYaml.LoadOptions['listener'],
    };
    value = jsyaml.load(text, options);
  } catch {
    return DECLINED;
  }
  // An empty stream: js-yaml says undefined, `yaml` null; the other parse answers.
  if (value === undefined || tooDeep) return DECLINED;
  // No null was made and nothing deep (most documents): the value is final, no walk over it.
  // The listener may count as little as half the real depth (a one-pair mapping in a flow
  // sequence, `[k: v]`, opens no node of its own): past half the limit, the walk decides.
  return nulls > 0 || deepest * 2 > maxDepth ? finish(value, maxDepth) : value;
}

/** The deepest level a collection may sit at in the current parse (the root at 1). */
let depthLimit = 0;
/** Set when a collection of the current parse sits deeper than `depthLimit`. */
let tooDeep = false;
/** The deepest level of a collection the listener saw in the current parse. */
let deepest = 0;

/**
 * Called by js-yaml as each node opens and closes; at `close`, `state.depth` is the node's
 * level (the root at 1, its values at 2) and `state.kind` its kind. Cheaper than a walk over
 * the finished value.
 */
function onNode(event: string, state: { depth: number; kind: string | null }): void {
  if (event !== 'close' || (state.kind !== 'mapping' && state.kind !== 'sequence')) return;
  if (state.depth > deepest) deepest = state.depth;
  if (state.depth > depthLimit) tooDeep = true;
}

/**
 * Replaces the null markers with null, and declines a document with a null key (the `yaml`
 * parse reports it, with its position) or nesting deeper than `maxDepth` (onNode may count
 * less than the real depth, see parseYamlFast). Without aliases the value is a tree, so a
 * plain walk with depths suffices.
 */
function finish(root: unknown, maxDepth: number): unknown {
  if (root === NULL) return null;
  if (typeof root !== 'object' || root === null) return root;
  const nodes: object[] = [root];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (depth > maxDepth) return DECLINED;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v = node[i];
        if (typeof v !== 'object' || v === null) continue;
        if (v === NULL) node[i] = null;
        else {
          nodes.push(v);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const k in record) {
      const v = record[k];
      if (k === NULL_KEY) return DECLINED;
      if (typeof v !== 'object' || v === null) continue;
      if (v === NULL) record[k] = null;
      else {
        nodes.push(v);
        depths.push(depth + 1);
      }
    }
  }
  return root;
}

import type { Document, Node as YamlNode } from 'yaml';
import {
  DiagnosticCode,
  error,
  escapePointerSegment,
  type PendingDiagnostic,
  toPointer,
} from './diagnostics.js';
import { locateJson, type NodeOffsets, scanJson } from './json-scan.js';
import { yamlModule } from './lazy-modules.js';
import { yamlErrorDiagnostics } from './yaml-errors.js';
import { DECLINED, parseYamlFast } from './yaml-fast.js';

/** Limits on untrusted documents. */
export const LIMITS = {
  maxBytes: 10 * 1024 * 1024,
  maxDepth: 64,
  /** yaml's `maxAliasCount`: how much alias expansion is tolerated. */
  maxAliasCount: 100,
} as const;

export type DocumentFormat = 'json' | 'yaml';

export interface ParsedText {
  value: unknown;
  diagnostics: PendingDiagnostic[];
  /** A problem after which the value cannot be validated (syntax, depth, alias bomb). */
  fatal: boolean;
  /** Text offsets of the nodes at the given pointers (plus all their prefixes). */
  locate(wanted: ReadonlySet<string>): Map<string, NodeOffsets>;
  /** 1-based line and column of an offset. */
  position(offset: number): { line: number; column: number };
}

export function detectFormat(filename: string | undefined): DocumentFormat | undefined {
  const lower = filename?.toLowerCase();
  if (lower?.endsWith('.json')) return 'json';
  if (lower?.endsWith('.yaml') || lower?.endsWith('.yml')) return 'yaml';
  return undefined;
}

function looksLikeJson(text: string): boolean {
  const m = /^\s*(\S)/.exec(text);
  return m?.[1] === '{' || m?.[1] === '[';
}

function linePositions(text: string): (offset: number) => { line: number; column: number } {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

export function parseJsonText(text: string): ParsedText {
  const diagnostics: PendingDiagnostic[] = [];
  let value: unknown;
  let fatal = false;
  for (const issue of scanJson(text, LIMITS.maxDepth)) {
    if (issue.code !== 'E_DUPLICATE_KEY') fatal = true;
    diagnostics.push(
      error(
        DiagnosticCode[
          issue.code === 'E_PARSE' ? 'PARSE' : issue.code === 'E_TOO_DEEP' ? 'TOO_DEEP' : 'DUPLICATE_KEY'
        ],
        issue.pointer,
        issue.message,
        {
          offset: issue.offset,
        },
      ),
    );
  }
  if (!fatal) {
    try {
      value = JSON.parse(text);
    } catch (e) {
      // The scanner accepts exactly JSON; this is a safety net.
      fatal = true;
      diagnostics.push(
        error(DiagnosticCode.PARSE, '', `invalid JSON: ${(e as Error).message}`, { offset: 0 }),
      );
    }
  }
  return {
    value,
    diagnostics,
    fatal,
    locate: (wanted) => locateJson(text, wanted),
    position: linePositions(text),
  };
}

function keyText(key: unknown): string {
  const { isScalar } = yamlModule();
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/** Walks the YAML node tree (not through aliases): duplicate keys and excessive nesting. */
function checkYamlNodes(root: YamlNode | null, diagnostics: PendingDiagnostic[]): boolean {
  const { isMap, isSeq } = yamlModule();
  const path: (string | number)[] = [];
  const visit = (node: unknown, depth: number): boolean => {
    if (isMap(node)) {
      if (depth + 1 > LIMITS.maxDepth) return tooDeep(node);
      const keys = new Set<string>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        path.push(key);
        if (keys.has(key)) {
          diagnostics.push(
            error(DiagnosticCode.DUPLICATE_KEY, toPointer(path), `duplicate key "${key}"`, {
              offset: (pair.key as YamlNode | null)?.range?.[0] ?? node.range?.[0] ?? 0,
            }),
          );
        }
        keys.add(key);
        const ok = visit(pair.value, depth + 1);
        path.pop();
        if (!ok) return false;
      }
    } else if (isSeq(node)) {
      if (depth + 1 > LIMITS.maxDepth) return tooDeep(node);
      for (let i = 0; i < node.items.length; i++) {
        path.push(i);
        const ok = visit(node.items[i], depth + 1);
        path.pop();
        if (!ok) return false;
      }
    }
    return true;
  };
  const tooDeep = (node: YamlNode): boolean => {
    diagnostics.push(
      error(DiagnosticCode.TOO_DEEP, toPointer(path), `nesting deeper than ${LIMITS.maxDepth} levels`, {
        offset: node.range?.[0] ?? 0,
      }),
    );
    return false;
  };
  return visit(root, 0);
}

/**
 * Whether a plain value nests deeper than `maxDepth`. Also catches cycles (YAML aliases,
 * or objects from callers); a node shared by several parents is revisited only when
 * reached deeper, so the work stays linear-ish.
 */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const seen = new Map<object, number>();
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > maxDepth) return true;
    const before = seen.get(v);
    if (before !== undefined && before >= d) continue;
    seen.set(v, d);
    if (Array.isArray(v)) for (const x of v) stack.push([x, d + 1]);
    else for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], d + 1]);
  }
  return false;
}

function locateYaml(doc: Document, wanted: ReadonlySet<string>): Map<string, NodeOffsets> {
  const { isAlias, isMap, isPair, isSeq } = yamlModule();
  const found = new Map<string, NodeOffsets>();
  const visit = (raw: unknown, ptr: string, keyOffset: number | undefined, hops: number): void => {
    let node = raw;
    if (isAlias(node) && hops < 8) node = node.resolve(doc);
    const start = (raw as YamlNode | null)?.range?.[0];
    if (start !== undefined || keyOffset !== undefined) {
      found.set(ptr, { ...(keyOffset === undefined ? {} : { key: keyOffset }), value: start ?? keyOffset! });
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const p = `${ptr}/${escapePointerSegment(keyText(pair.key))}`;
        if (wanted.has(p)) visit(pair.value, p, (pair.key as YamlNode | null)?.range?.[0], hops + 1);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = `${ptr}/${i}`;
        if (wanted.has(p)) visit(item, p, undefined, hops + 1);
      });
    }
  };
  if (wanted.has('')) visit(doc.contents, '', undefined, 0);
  return found;
}

/**
 * The yaml package parses nesting recursively: a few hundred levels overflow the stack,
 * and in a process that already overflowed once, V8 can then abort while compiling a
 * regular expression. So before parsing, a linear pass estimates the nesting (indentation
 * + "- " indicators + open flow brackets outside quotes and comments) and refuses absurd
 * values. The estimate only over-counts, and real documents are nowhere near the bound.
 */
const YAML_PRESCAN_LIMIT = 200;

function yamlNestingEstimateExceeds(text: string, limit: number): number | undefined {
  let flow = 0;
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      if (c === 32 || c === 9) {
        indent++;
        continue;
      }
      if (c === 45 && (text.charCodeAt(i + 1) === 32 || text.charCodeAt(i + 1) === 9)) {
        indent += 2; // "- " opens a sequence item; "- - x" nests on one line
        i++;
        continue;
      }
      lineStart = false;
    }
    const prev = i > 0 ? text.charCodeAt(i - 1) : 10;
    const afterSpace =
      prev === 32 || prev === 9 || prev === 10 || prev === 91 || prev === 123 || prev === 44 || prev === 58;
    if (c === 35 && afterSpace) {
      // A comment: skip to the end of the line.
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 10) i++;
    } else if ((c === 34 || c === 39) && afterSpace) {
      // A quoted scalar: skip it (a "\" escapes in double quotes; '' is a quote in single ones).
      for (i++; i < text.length; i++) {
        const q = text.charCodeAt(i);
        if (c === 34 && q === 92) i++;
        else if (q === c) {
          if (c === 39 && text.charCodeAt(i + 1) === 39) i++;
          else break;
        }
      }
    } else if (c === 91 || c === 123) flow++;
    else if ((c === 93 || c === 125) && flow > 0) flow--;
    if (indent + flow > limit) return i;
  }
  return undefined;
}

/**
 * Parses YAML: the fast parse (yaml-fast.ts) when it takes the document, and the
 * position-keeping `yaml` parse when it declines, or later, only if a diagnostic needs a
 * line:column (`locate` and `position` run it then). Both give the same value.
 */
export function parseYamlText(text: string): ParsedText {
  const value = parseYamlFast(text, LIMITS.maxDepth);
  if (value !== DECLINED) {
    let full: ParsedText | undefined;
    const positions = () => (full ??= parseYamlWithPositions(text));
    return {
      value,
      diagnostics: [],
      fatal: false,
      locate: (wanted) => positions().locate(wanted),
      position: (offset) => positions().position(offset),
    };
  }
  return parseYamlWithPositions(text);
}

/** The `yaml` package's parse: every syntax problem, duplicate key and limit, with positions. */
export function parseYamlWithPositions(text: string): ParsedText {
  const { LineCounter, parseDocument } = yamlModule();
  const diagnostics: PendingDiagnostic[] = [];
  const lineCounter = new LineCounter();
  const position = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const tooDeepAt = yamlNestingEstimateExceeds(text, YAML_PRESCAN_LIMIT);
  if (tooDeepAt !== undefined) {
    diagnostics.push(
      error(DiagnosticCode.TOO_DEEP, '', `nesting far deeper than ${LIMITS.maxDepth} levels`, {
        offset: tooDeepAt,
      }),
    );
    // The parse never ran, so the line counter knows no lines: count them in the text.
    return {
      value: undefined,
      diagnostics,
      fatal: true,
      locate: () => new Map(),
      position: linePositions(text),
    };
  }
  let doc: Document;
  try {
    doc = parseDocument(text, {
      lineCounter,
      uniqueKeys: false,
      prettyErrors: true,
      keepSourceTokens: false,
    });
  } catch (e) {
    const deep = e instanceof RangeError;
    diagnostics.push(
      error(
        deep ? DiagnosticCode.TOO_DEEP : DiagnosticCode.PARSE,
        '',
        deep ? 'nesting too deep' : String(e),
        {
          offset: 0,
        },
      ),
    );
    return { value: undefined, diagnostics, fatal: true, locate: () => new Map(), position };
  }
  const locate = (wanted: ReadonlySet<string>) => locateYaml(doc, wanted);
  if (doc.errors.length > 0) {
    diagnostics.push(...yamlErrorDiagnostics(doc.errors, doc, text, lineCounter));
    return { value: undefined, diagnostics, fatal: true, locate, position };
  }
  if (!checkYamlNodes(doc.contents, diagnostics))
    return { value: undefined, diagnostics, fatal: true, locate, position };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: LIMITS.maxAliasCount });
  } catch (e) {
    const alias = e instanceof ReferenceError;
    diagnostics.push(
      error(
        alias
          ? DiagnosticCode.ALIAS_LIMIT
          : e instanceof RangeError
            ? DiagnosticCode.TOO_DEEP
            : DiagnosticCode.PARSE,
        '',
        alias ? `YAML aliases expand too much (more than ${LIMITS.maxAliasCount} alias uses)` : String(e),
        { offset: 0 },
      ),
    );
    return { value: undefined, diagnostics, fatal: true, locate, position };
  }
  if (exceedsDepth(value, LIMITS.maxDepth)) {
    diagnostics.push(
      error(DiagnosticCode.TOO_DEEP, '', `nesting deeper than ${LIMITS.maxDepth} levels (through aliases)`, {
        offset: 0,
      }),
    );
    return { value: undefined, diagnostics, fatal: true, locate, position };
  }
  return { value, diagnostics, fatal: false, locate, position };
}

/** Parses by format, or by content when the format is unknown (JSON first, then YAML). */
export function parseText(text: string, format: DocumentFormat | undefined): ParsedText {
  if (format === 'json') return parseJsonText(text);
  if (format === 'yaml') return parseYamlText(text);
  if (looksLikeJson(text)) {
    const json = parseJsonText(text);
    if (!json.fatal) return json;
    const yaml = parseYamlText(text);
    return yaml.fatal ? json : yaml;
  }
  return parseYamlText(text);
}

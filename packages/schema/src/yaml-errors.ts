import type { Document, LineCounter, YAMLError, Node as YamlNode } from 'yaml';
import { DiagnosticCode, error, escapePointerSegment, type PendingDiagnostic } from './diagnostics.js';
import { yamlModule } from './lazy-modules.js';

/**
 * YAML syntax errors as diagnostics, one per mistake, where the mistake is. The yaml
 * package reports where it noticed a problem: an unclosed `{` or quote at the next line or
 * the end of the document, a bad indentation at column 1. And it keeps parsing, so one
 * mistake (a tab, a bracket) often yields two or three more errors just after it.
 */

interface Located {
  offset: number;
  message: string;
  hint?: string;
  tab: boolean;
}

const HINTS: Partial<Record<YAMLError['code'], string>> = {
  BAD_SCALAR_START: 'quote the value, e.g. agent: "@orchestr8/echo"',
  BLOCK_AS_IMPLICIT_KEY: 'quote a value that contains ": ", or check the indentation of the next line',
  MULTILINE_IMPLICIT_KEY: 'is a ":" missing after the key, or is the next line indented too far?',
};

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  const text = line.replace(/ at line \d+, column \d+:?$/, '');
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** The first tab in the indentation of the line holding `offset`, if any. */
function tabInIndent(text: string, offset: number): number | undefined {
  for (let i = lineStart(text, offset); i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 9) return i;
    if (c !== 32) return undefined;
  }
  return undefined;
}

/** The innermost node satisfying `pick` among those `within` (aliases are not followed). */
function innermost(
  root: unknown,
  pick: (node: YamlNode) => boolean,
  within: (node: YamlNode) => boolean,
): YamlNode | undefined {
  const { isMap, isSeq } = yamlModule();
  let found: YamlNode | undefined;
  let node = root as YamlNode | null | undefined;
  while (node) {
    if (pick(node)) found = node;
    let next: YamlNode | undefined;
    if (isMap(node)) {
      for (const pair of node.items) {
        for (const part of [pair.key, pair.value] as (YamlNode | null)[])
          if (part?.range && within(part)) next = part;
        if (next) break;
      }
    } else if (isSeq(node)) {
      for (const item of node.items as (YamlNode | null)[]) if (item?.range && within(item)) next = item;
    }
    node = next;
  }
  return found;
}

/** Where the mistake is, and what to say about it. */
function locate(e: YAMLError, doc: Document, text: string): Located {
  const { isMap, isScalar, isSeq } = yamlModule();
  const offset = e.pos[0];
  const message = firstLine(e.message);
  const hint = HINTS[e.code];
  const tab = tabInIndent(text, offset);
  if (e.code === 'TAB_AS_INDENT' || tab !== undefined) {
    return {
      offset: tab ?? offset,
      message: 'tabs are not allowed as indentation',
      hint: 'indent with spaces',
      tab: true,
    };
  }
  const holds = (n: YamlNode) => n.range![0] <= offset && offset <= n.range![2];
  // Reported at the next line (or the end): the unclosed bracket or quote itself.
  const flow = /^Flow (map|sequence) in block collection must .* end with an? (\}|\])/.exec(e.message);
  if (e.code === 'BAD_INDENT' && flow) {
    const open = innermost(doc.contents, (n) => (isMap(n) || isSeq(n)) && n.flow === true, holds);
    if (open?.range && open.range[0] < offset) {
      const bracket = flow[2] === '}' ? '{' : '[';
      return {
        offset: open.range[0],
        message: `"${bracket}" is not closed`,
        hint: `end the flow ${flow[1] === 'map' ? 'mapping' : 'sequence'} with "${flow[2]}", or indent the lines that continue it`,
        tab: false,
      };
    }
  }
  const quote = /^Missing closing (["'])quote/.exec(e.message);
  if (e.code === 'MISSING_CHAR' && quote) {
    const scalar = innermost(
      doc.contents,
      (n) => isScalar(n) && (n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE'),
      holds,
    );
    if (scalar?.range && scalar.range[0] < offset) {
      return {
        offset: scalar.range[0],
        message: `string is not closed (missing closing ${quote[1]})`,
        hint: `add the closing ${quote[1]} where the string ends`,
        tab: false,
      };
    }
  }
  // Reported in the indentation: the first thing on the line.
  let at = offset;
  while (text.charCodeAt(at) === 32) at++;
  if (at >= text.length || text.charCodeAt(at) === 10 || text.charCodeAt(at) === 13) at = offset;
  return { offset: at, message, ...(hint ? { hint } : {}), tab: false };
}

/**
 * The JSON pointer of the deepest node at `offset`. On a mapping key: the mapping, since a
 * malformed key names no member; or that member, when the key is known to be sound.
 */
function pointerAt(doc: Document, offset: number, onKey: 'mapping' | 'member' = 'mapping'): string {
  const { isMap, isPair, isScalar, isSeq } = yamlModule();
  let pointer = '';
  let node = doc.contents as YamlNode | null;
  const holds = (n: YamlNode | null | undefined): n is YamlNode =>
    !!n?.range && n.range[0] <= offset && offset < Math.max(n.range[2], n.range[0] + 1);
  for (;;) {
    let next: YamlNode | undefined;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as YamlNode | null;
        const name = isScalar(key) ? String(key.value) : String(key);
        if (holds(key)) return onKey === 'member' ? `${pointer}/${escapePointerSegment(name)}` : pointer;
        if (holds(pair.value as YamlNode | null)) {
          pointer += `/${escapePointerSegment(name)}`;
          next = pair.value as YamlNode;
          break;
        }
      }
    } else if (isSeq(node)) {
      const i = (node.items as (YamlNode | null)[]).findIndex(holds);
      if (i >= 0) {
        pointer += `/${i}`;
        next = node.items[i] as YamlNode;
      }
    }
    if (!next) return pointer;
    node = next;
  }
}

/**
 * Where a tab-indented line belongs. A tab is whitespace, in no node: first what follows
 * it. But a line indented by tabs alone is read as top-level, so then the line before says
 * where it was meant to go: under its `key:`, or beside its last value.
 */
function tabPointer(doc: Document, text: string, tab: number): string {
  let next = tab;
  while (text.charCodeAt(next) === 9 || text.charCodeAt(next) === 32) next++;
  const own = pointerAt(doc, next);
  if (own !== '') return own;
  let last = lineStart(text, tab) - 1;
  while (last >= 0 && /\s/.test(text[last]!)) last--;
  if (last < 0) return own;
  if (text[last] === ':') return pointerAt(doc, last - 1, 'member');
  const value = pointerAt(doc, last);
  return value.slice(0, Math.max(0, value.lastIndexOf('/')));
}

/**
 * One E_PARSE (or E_TOO_DEEP) per mistake. An error on the line of the previous one, or
 * the line after it, is taken for a consequence of it, except another tab: each tab is a
 * mistake of its own.
 */
export function yamlErrorDiagnostics(
  errors: readonly YAMLError[],
  doc: Document,
  text: string,
  lines: LineCounter,
): PendingDiagnostic[] {
  const out: PendingDiagnostic[] = [];
  let lastEndLine = -Infinity;
  let lastLine = -Infinity;
  let lastWasTab = false;
  for (const e of errors) {
    if (e.message.startsWith('Maximum call stack')) {
      out.push(error(DiagnosticCode.TOO_DEEP, '', 'nesting too deep', { offset: e.pos[0] }));
      continue;
    }
    const found = locate(e, doc, text);
    const line = lines.linePos(found.offset).line;
    const startLine = lines.linePos(e.pos[0]).line;
    const followOn =
      found.tab && lastWasTab ? line === lastLine : startLine <= lastEndLine + 1 || line === lastLine;
    if (followOn) continue;
    const pointer = found.tab ? tabPointer(doc, text, found.offset) : pointerAt(doc, found.offset);
    out.push(
      error(DiagnosticCode.PARSE, pointer, found.message, {
        hint: found.hint,
        offset: found.offset,
      }),
    );
    lastEndLine = lines.linePos(Math.max(e.pos[1] - 1, e.pos[0])).line;
    lastLine = line;
    lastWasTab = found.tab;
  }
  return out;
}

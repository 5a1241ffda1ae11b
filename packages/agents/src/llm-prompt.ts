/**
 * The JSON prompt of the llm agent, rendered to a system and a user message, and the
 * reading of a JSON answer (code fences and stray prose tolerated).
 */
import { checkAgainstSchema } from '@orchestr8/core';
import { isRecord } from './http-util.js';

export interface LlmPrompt {
  /** Who the model is, e.g. "a release-notes editor". */
  role?: string;
  goals?: string | string[];
  constraints?: string | string[];
  /** The task itself. */
  instructions?: string;
  /** When given, the answer must be one JSON value satisfying this JSON Schema. */
  outputSchema?: Record<string, unknown>;
  /** Worked examples: `{input, output}` pairs, or any values. */
  examples?: unknown[];
  /** The data the task is about. */
  input?: unknown;
}

export interface RenderedPrompt {
  system: string;
  user: string;
}

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => String(v).trim()).filter(Boolean);
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

export function buildPrompt(p: LlmPrompt): RenderedPrompt {
  const system: string[] = [];
  if (p.role?.trim()) {
    const role = p.role.trim();
    system.push(`You are ${role}${/[.!?]$/.test(role) ? '' : '.'}`);
  }
  const goals = list(p.goals);
  if (goals.length) system.push(`Goals:\n${goals.map((g) => `- ${g}`).join('\n')}`);
  const constraints = list(p.constraints);
  if (constraints.length) system.push(`Constraints:\n${constraints.map((c) => `- ${c}`).join('\n')}`);
  if (p.outputSchema !== undefined) {
    system.push(
      'Answer with a single JSON value and nothing else: no prose, no markdown, no code fences. ' +
        `It must satisfy this JSON Schema:\n${JSON.stringify(p.outputSchema, null, 2)}`,
    );
  }
  const user: string[] = [];
  if (p.instructions?.trim()) user.push(p.instructions.trim());
  if (p.examples?.length) {
    const shown = p.examples.map((ex, i) => {
      if (isRecord(ex) && 'output' in ex) {
        const input = 'input' in ex ? `Input:\n${show(ex.input)}\n` : '';
        return `Example ${i + 1}:\n${input}Output:\n${show(ex.output)}`;
      }
      return `Example ${i + 1}:\n${show(ex)}`;
    });
    user.push(`Examples:\n\n${shown.join('\n\n')}`);
  }
  if (p.input !== undefined) user.push(`Input:\n${show(p.input)}`);
  if (user.length === 0) user.push(goals.length ? 'Work towards the goals above.' : 'Respond.');
  return { system: system.join('\n\n'), user: user.join('\n\n') };
}

export function repairMessage(problem: string): string {
  return (
    `Your previous answer could not be used: ${problem}. ` +
    'Answer again with only the corrected JSON value, satisfying the JSON Schema given above: ' +
    'no prose, no markdown, no code fences.'
  );
}

export type JsonReading = { ok: true; value: unknown } | { ok: false; problem: string };

/** Parses a model's JSON answer: the whole text, else a fenced block, else the outermost {...} or [...]. */
export function readJson(text: string): JsonReading {
  const candidates: string[] = [text.trim()];
  const fence = /```[A-Za-z0-9_-]*[ \t]*\r?\n?([\s\S]*?)```/.exec(text);
  if (fence?.[1] !== undefined) candidates.push(fence[1].trim());
  const start = text.search(/[[{]/);
  if (start >= 0) {
    const close = text[start] === '{' ? '}' : ']';
    const end = text.lastIndexOf(close);
    if (end > start) candidates.push(text.slice(start, end + 1));
  }
  let first: string | undefined;
  for (const c of candidates) {
    if (c === '') continue;
    try {
      return { ok: true, value: JSON.parse(c) as unknown };
    } catch (e) {
      first ??= e instanceof Error ? e.message : String(e);
    }
  }
  return { ok: false, problem: `it is not valid JSON (${first ?? 'empty answer'})` };
}

const interned = new Map<string, object>();
const INTERN_LIMIT = 256;

/**
 * The schema validator caches compiled schemas per object; a step renders its input anew on
 * every run, so equal schemas are mapped to one object to keep that cache hit and bounded.
 * A top-level `$id` is dropped: two different schemas with one `$id` would collide.
 */
function internSchema(schema: Record<string, unknown>): object {
  const key = JSON.stringify(schema);
  let found = interned.get(key);
  if (found === undefined) {
    const { $id: _id, ...rest } = schema;
    found = rest;
    if (interned.size >= INTERN_LIMIT) interned.delete(interned.keys().next().value!);
    interned.set(key, found);
  }
  return found;
}

/** Undefined when the value satisfies the schema, else the problem (path and message). */
export function schemaProblem(schema: Record<string, unknown>, value: unknown): string | undefined {
  try {
    checkAgainstSchema(internSchema(schema), value, 'the answer');
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
/**
 * A workflow's secret over real HTTP, on a SQLite file: it must appear in no response
 * (results, step records, journal, both event streams) and no stored journal row, wherever
 * the document or an agent put it. And the journal's byte caps, measured on what is stored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import {
  createEngine,
  type Engine,
  REDACTED,
  REDACTED_TOO_DEEP,
  type Store,
  TRUNCATED,
} from '@orchestr8/core';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Listener } from '../src/index.js';
import { post } from './helpers.js';

const SECRET = 'sk-live-http-5d1e0b77';
const VAR = 'O8_REDACTION_TEST_API_KEY';

/** Turns its input into an object key: what a careless agent might do with a header. */
const keyed = defineAgent<{ value: string }, unknown>({
  id: '@test/keyed',
  execute: ({ value }) => ({ [value]: 'as a key', note: `key=${value}` }),
});

/** Returns a text of `n` repetitions of `unit`, to fill journal fields. */
const filler = defineAgent<{ unit: string; n: number }, unknown>({
  id: '@test/filler',
  execute: ({ unit, n }) => ({ text: unit.repeat(n) }),
});

function nest(levels: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { down: v };
  return v;
}

const leakyDocument = {
  version: '1.0.0',
  metadata: { id: 'leaky' },
  context: { secretRefs: { apiKey: { env: VAR } } },
  steps: [
    { id: 'keyed', agent: '@test/keyed', input: { value: '${secrets.apiKey}' } },
    // Documents nest at most 64 levels; two steps nest the secret 100 deep.
    { id: 'half', agent: '@orchestr8/echo', input: nest(50, { token: '${secrets.apiKey}' }) },
    { id: 'deep', agent: '@orchestr8/echo', input: nest(50, '${steps.half.output}'), dependencies: ['half'] },
    { id: 'text', agent: '@orchestr8/echo', input: { header: 'Bearer ${secrets.apiKey}' } },
    {
      id: 'thrower',
      agent: '@orchestr8/fail',
      input: { always: true, retryable: false, message: 'upstream rejected ${secrets.apiKey}' },
      onError: 'continue',
    },
  ],
};

let dir: string;
let store: Store;
let engine: Engine;
let listener: Listener;
let url: string;

beforeAll(async () => {
  process.env[VAR] = SECRET;
  dir = mkdtempSync(join(tmpdir(), 'o8-redaction-'));
  store = await openSqliteStore({ path: join(dir, 'orchestr8.db') });
  const registry = createAgentRegistry([...builtinAgents, keyed, filler]);
  // The operator grants the document its secret's variable.
  engine = createEngine({ registry, store, capabilities: { env: [VAR] } });
  listener = await createServer({ engine, registry, keepAliveMs: 100 }).listen(0, '127.0.0.1');
  url = listener.url;
});

afterAll(async () => {
  delete process.env[VAR];
  await Promise.all([listener.close({ graceMs: 200 }), engine.shutdown({ graceMs: 200 })]);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An SSE stream's raw text until `until` matches it (or the server ends it). */
async function sseText(path: string, until: (text: string) => boolean): Promise<string> {
  const abort = new AbortController();
  const res = await fetch(`${url}${path}`, {
    headers: { accept: 'text/event-stream' },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += value;
      if (until(text)) return text;
    }
  } finally {
    abort.abort();
  }
}

describe('a workflow secret over HTTP', () => {
  it('is in no response, stream or stored journal row: as a key, 100 levels deep, in a longer string, in an agent error', async () => {
    // The all-executions stream, opened before the execution starts.
    let feedDone!: Promise<string>;
    const feedOpen = new Promise<void>((opened) => {
      feedDone = sseText('/events', (text) => {
        opened();
        return /"type":"execution\.(completed|failed)"/.test(text);
      });
    });
    // A keep-alive comment or the first event opens it; give the subscription a moment.
    await Promise.race([feedOpen, new Promise((r) => setTimeout(r, 300))]);

    const started = await post(`${url}/workflows/execute?wait=10`, { workflow: leakyDocument });
    const executeBody = await started.text();
    expect(started.status, executeBody).toBe(200);
    const id = (JSON.parse(executeBody) as { executionId: string }).executionId;

    const get = await (await fetch(`${url}/executions/${id}`)).text();
    const journal = await (await fetch(`${url}/executions/${id}/journal`)).text();
    const stream = await sseText(`/executions/${id}/events`, () => false);
    const feed = await feedDone;
    const rows = JSON.stringify(await store.readJournal(id));

    const outputs = { executeBody, get, journal, stream, feed, rows };
    for (const [where, text] of Object.entries(outputs)) {
      expect(text.length, where).toBeGreaterThan(200);
      expect(text, where).not.toContain(SECRET);
    }

    // What GET /executions/:id shows of the steps, redacted.
    const view = JSON.parse(get) as { status: string; steps: Record<string, any> };
    expect(view.status).toBe('completed');
    expect(view.steps.keyed.output).toEqual({ [REDACTED]: 'as a key', note: `key=${REDACTED}` });
    expect(view.steps.text.output).toEqual({ header: `Bearer ${REDACTED}` });
    expect(view.steps.thrower.error.message).toBe(`upstream rejected ${REDACTED}`);
    // Past the levels the redactor walks, the subtree holding the secret is replaced whole.
    expect(JSON.stringify(view.steps.deep.output)).toContain(JSON.stringify(REDACTED_TOO_DEEP));
    expect(journal).toContain(`"header":"Bearer ${REDACTED}"`);
  });

  it.each([
    ['CJK text', '漢字かな交じり文', 3000],
    ['emoji', '😀🚀', 5000],
    ['control characters', '\u0001\u0002', 6000],
  ])('keeps every stored journal field of %s within 8 KiB of UTF-8', async (_name, unit, n) => {
    const res = await post(`${url}/workflows/execute?wait=10`, {
      workflow: {
        version: '1.0.0',
        metadata: { id: 'filler' },
        steps: [{ id: 'fill', agent: '@test/filler', input: { unit, n } }],
      },
    });
    const { executionId } = (await res.json()) as { executionId: string };
    const lines = (await (await fetch(`${url}/executions/${executionId}/journal`)).text())
      .split('\n')
      .filter(Boolean);
    const rows = await store.readJournal(executionId);
    expect(lines).toHaveLength(rows.length);
    for (const row of rows) {
      // JSON.stringify of what the store returns is the text it holds (sql-rows `json`).
      for (const value of Object.values((row.data ?? {}) as Record<string, unknown>)) {
        expect(Buffer.byteLength(JSON.stringify(value))).toBeLessThanOrEqual(8 * 1024);
      }
    }
    const completed = rows.find((r) => r.type === 'step.completed')!;
    expect((completed.data as { output: object }).output).toMatchObject({ [TRUNCATED]: true });
  });
});

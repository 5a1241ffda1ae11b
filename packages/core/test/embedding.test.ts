import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/index.js';
import { agent, compile, testEngine } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/embedded-child.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function runChild(mode: 'own' | 'given'): { status: string; active: string[] } {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', TSX, CHILD, mode], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('a program that embeds the engine', () => {
  it('is not kept alive by the engine after its execution, without calling shutdown', () => {
    // No cancel poll on the engine's own memory store: no timer at all.
    const own = runChild('own');
    expect(own.status).toBe('completed');
    expect(own.active).not.toContain('Timeout');
  });

  it('is not kept alive by the cancel poll of a store it passed in', () => {
    const given = runChild('given');
    expect(given.status).toBe('completed');
    expect(given.active).not.toContain('Timeout');
  });
});

const waitForAbort = agent(
  'wait',
  (_input, ctx) =>
    new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
);
const oneStep = compile({ steps: [{ id: 'a', agent: 'wait' }] });

describe('engine.close', () => {
  it('cancels what runs on its own memory store, then refuses new work', async () => {
    const { engine } = testEngine([waitForAbort]);
    const handle = await engine.start(oneStep);
    await engine.close({ graceMs: 0 });
    expect((await handle.result).status).toBe('cancelled');
    await expect(engine.start(oneStep)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(engine.resume(handle.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await engine.close(); // a second close is harmless
  });

  it('suspends executions on a store it was given, and leaves that store open', async () => {
    const store = createMemoryStore();
    const { engine, clock } = testEngine([waitForAbort], { store });
    const handle = await engine.start(oneStep);
    const closed = engine.close({ graceMs: 0 });
    await clock.advance(0); // the grace period runs on the fake clock
    await closed;
    // Left `running` to resume, and the store still answers.
    expect((await store.getExecution(handle.id))?.status).toBe('running');
  });

  it('is the engine’s async dispose', async () => {
    const { engine } = testEngine([waitForAbort]);
    const dispose = (engine as unknown as Record<symbol, () => Promise<void>>)[Symbol.asyncDispose];
    expect(typeof dispose).toBe('function');
    await dispose!.call(engine);
    await expect(engine.start(oneStep)).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('engine.start and engine.execute', () => {
  it('refuse a document or its text with VALIDATION that says to compile it first', async () => {
    const { engine } = testEngine([agent('@t/echo', (input) => input)]);
    const document = {
      version: '1.0.0',
      metadata: { id: 'raw' },
      steps: [{ id: 'a', agent: '@t/echo', input: {} }],
    };
    for (const [given, named] of [
      [document, 'a document'],
      ['version: "1.0.0"', 'document text'],
      [undefined, 'undefined'],
    ] as const) {
      for (const call of [() => engine.execute(given as never), () => engine.start(given as never)]) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, named).toMatchObject({ code: 'VALIDATION', retryable: false });
        expect((error as Error).message).toContain(`not ${named}: pass engine.compile(document)`);
      }
    }
    // The compiled form of the same document runs.
    expect((await engine.execute(engine.compile(document))).status).toBe('completed');
  });
});

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { execution } from '../../core/test/store-contract.js';
import { openSqliteStore } from '../src/index.js';
import { shuffled } from './fixtures/shuffle.js';
import { useTempDir } from './helpers.js';

const tempDir = useTempDir();
const CHILD = fileURLToPath(new URL('./fixtures/store-child.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function child(...args: string[]): { proc: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> } {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', TSX, CHILD, ...args], {
    stdio: 'pipe',
  });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  async function* read() {
    let buffer = '';
    for await (const chunk of proc.stdout) {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        yield buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
      }
    }
    throw new Error(`child exited early (code ${proc.exitCode}): ${stderr}`);
  }
  return { proc, lines: read() };
}

const nextLine = async (lines: AsyncIterator<string>) => (await lines.next()).value as string;

describe('sqlite store: several connections on one file', () => {
  it('lets exactly one of two connections in this process claim each key', async () => {
    const path = join(tempDir(), 'two.db');
    const a = await openSqliteStore({ path });
    const b = await openSqliteStore({ path });
    const expiresAt = Date.now() + 60_000;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).createExecution(execution(), { key: `k-${i % 4}`, fingerprint: 'f', expiresAt }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(4);
    for (const store of [a, b]) expect((await store.listExecutions()).items).toHaveLength(4);
    await a.close();
    await b.close();
  });

  it('lets exactly one of three processes claim each key when they race', { timeout: 60_000 }, async () => {
    const path = join(tempDir(), 'race.db');
    const keys = 300;
    const parent = await openSqliteStore({ path, busyTimeoutMs: 10_000 });
    const children = ['p1', 'p2'].map((name) => ({ name, ...child('race', path, name, String(keys)) }));
    for (const c of children) expect(await nextLine(c.lines)).toBe('ready');
    for (const c of children) c.proc.stdin.write('go\n');
    const parentWon: number[] = [];
    let attempts = 0;
    for (const i of shuffled(keys, 'p0')) {
      const result = await parent.createExecution(execution({ id: `p0-${i}` }), {
        key: `key-${i}`,
        fingerprint: 'p0',
        expiresAt: Date.now() + 3_600_000,
      });
      if (result.created) parentWon.push(i);
      // Yield to the event loop so the children's writes interleave with ours.
      if (++attempts % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    const won = [parentWon];
    for (const c of children) won.push(JSON.parse(await nextLine(c.lines)) as number[]);
    const all = won.flat().sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: keys }, (_, i) => i));
    // Every claim points at the one execution that exists for it.
    const executions = [];
    let cursor: string | undefined;
    do {
      const page = await parent.listExecutions({ limit: 1000, ...(cursor ? { cursor } : {}) });
      executions.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(executions).toHaveLength(keys);
    for (let i = 0; i < keys; i++) {
      const claim = await parent.findIdempotency(`key-${i}`, Date.now());
      expect(await parent.getExecution(claim!.executionId)).toBeDefined();
    }
    await parent.close();
  });

  it('keeps a committed write when the writing process is killed with SIGKILL', {
    timeout: 30_000,
  }, async () => {
    const path = join(tempDir(), 'killed.db');
    await (await openSqliteStore({ path })).close();
    const { proc, lines } = child('kill', path, 'victim');
    expect(await nextLine(lines)).toBe('written');
    await new Promise((resolve) => proc.once('exit', resolve));
    expect(proc.signalCode).toBe('SIGKILL');
    const store = await openSqliteStore({ path });
    expect(await store.getExecution('victim')).toMatchObject({ id: 'victim', status: 'running' });
    expect(await store.getSteps('victim')).toMatchObject([{ stepId: 'a', status: 'completed', output: 42 }]);
    expect(await store.readJournal('victim')).toHaveLength(1);
    await store.close();
  });

  it('loses nothing it acknowledged when a busy writer is killed with SIGKILL, background checkpoints running', {
    timeout: 60_000,
  }, async () => {
    const path = join(tempDir(), 'busy.db');
    await (await openSqliteStore({ path })).close();
    const { proc, lines } = child('stream', path);
    const acknowledged: string[] = [];
    // 100 transactions in: well past the 64 after which the checkpoints run in their thread.
    while (acknowledged.length < 2000) acknowledged.push(await nextLine(lines));
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));
    const store = await openSqliteStore({ path });
    const missing: string[] = [];
    for (const id of acknowledged) {
      const steps = await store.getSteps(id);
      if ((await store.getExecution(id)) === undefined || steps[0]?.status !== 'completed') missing.push(id);
    }
    expect(missing).toEqual([]);
    await store.close();
  });
});

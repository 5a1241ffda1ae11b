/**
 * `orchestr8 run` and `PUT /workflows/:id` against one SQLite store: run stores each distinct
 * content of a document, an edited one without a version bump as `<version>+sha.<hash>`, and
 * PUT agrees with what run stored instead of refusing a version the user never registered.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, cli, useTempRoot } from './fixtures/harness.js';

const tempDir = useTempRoot('run-then-put');
const doc = (text: string) => ({
  version: '1.0.0',
  metadata: { id: 'greet' },
  steps: [{ id: 'say', agent: '@orchestr8/echo', input: { text } }],
});

let served: ChildProcess | undefined;
afterEach(() => {
  served?.kill();
  served = undefined;
});

function serve(store: string): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'serve', '--store', store, '--port', '0'], {
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  served = child;
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

const put = (url: string, body: unknown) =>
  fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('orchestr8 run, then PUT /workflows/:id of the same documents', () => {
  beforeAll(assertBuilt);

  it('answers 200 with the version run stored, and explains a 409 for content run never stored', async () => {
    const dir = tempDir();
    const store = `sqlite:${join(dir, 'orchestr8.db')}`;
    const file = join(dir, 'greet.json');
    writeFileSync(file, JSON.stringify(doc('hello')));
    expect((await cli(['run', file, '--store', store, '--quiet'], { cwd: dir })).code).toBe(0);
    writeFileSync(file, JSON.stringify(doc('hello, edited')));
    const edited = await cli(['run', file, '--store', store, '--json'], { cwd: dir });
    expect(edited.code, edited.stderr).toBe(0);
    const variant = JSON.parse(edited.stdout).workflowVersion as string;
    expect(variant).toMatch(/^1\.0\.0\+sha\.[0-9a-f]{12}$/);

    const url = await serve(store);
    const again = await put(`${url}/workflows/greet`, doc('hello, edited'));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: 'greet', version: variant });
    expect(again.headers.get('location')).toBe(`/workflows/greet?version=${encodeURIComponent(variant)}`);
    expect((await put(`${url}/workflows/greet`, doc('hello'))).status).toBe(200);

    const conflict = await put(`${url}/workflows/greet`, doc('never run'));
    expect(conflict.status).toBe(409);
    const problem = (await conflict.json()) as { code: string; detail: string };
    expect(problem.code).toBe('CONFLICT');
    expect(problem.detail).toContain('version "1.0.0" is already stored with other content');
    expect(problem.detail).toContain('by a PUT or by `orchestr8 run`');
    expect(problem.detail).toContain('bump the document\'s `version` (e.g. to "1.0.1")');
    expect(problem.detail).toMatch(
      /`orchestr8 run` of this document stores it as "1\.0\.0\+sha\.[0-9a-f]{12}"/,
    );
  });
});

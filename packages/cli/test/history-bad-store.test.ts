/**
 * Bad stores through the binary: a corrupted, foreign or locked database file gives a
 * clear error (no stack trace) and a non-zero exit, and is never overwritten.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS,
  assertBuilt,
  type CliResult,
  cli,
  recordExecution,
  type StepSpec,
  useTempRoot,
  writeWorkflow,
} from './fixtures/harness.js';

const tempDir = useTempRoot('bad-store');
const STACK_TRACE = /\n\s+at .+:\d+/;
const steps: StepSpec[] = [
  { id: 'a', deps: [], ms: 0, own: 1 },
  { id: 'b', deps: ['a'], ms: 0, own: 2 },
];

function expectClearFailure(r: CliResult, pattern: RegExp, what: string): void {
  expect(r.code, `${what}: exit code\n${r.stderr}`).toBe(1);
  expect(r.stderr, what).toMatch(/^error STORE: /m);
  expect(r.stderr, what).toMatch(pattern);
  expect(r.stderr, `${what}: no stack trace`).not.toMatch(STACK_TRACE);
}

describe('bad stores through the binary', () => {
  beforeAll(assertBuilt);

  it('refuses a corrupted database in every command, naming the file, and leaves it untouched', async () => {
    const dir = tempDir();
    const path = join(dir, 'corrupt.db');
    const id = await recordExecution(path, 'wf', steps, { crashAt: 'b' });
    for (let i = 0; i < 20; i++) await recordExecution(path, 'wf', steps);
    const bytes = readFileSync(path);
    // Keep the 100-byte header, scramble the rest (the schema lives on page 1).
    randomBytes(bytes.length - 100).copy(bytes, 100);
    writeFileSync(path, bytes);
    const workflow = writeWorkflow(dir, 'wf', steps, 2);
    const store = ['--store', `sqlite:${path}`];
    const commands: [string, string[]][] = [
      ['run', ['run', workflow, '--agents', AGENTS, ...store]],
      ['list', ['list', ...store]],
      ['inspect', ['inspect', id, ...store]],
      ['journal', ['journal', id, ...store]],
      ['resume', ['resume', '--agents', AGENTS, ...store]],
      ['cancel', ['cancel', id, ...store]],
      ['prune', ['prune', '--older-than', '1d', ...store]],
    ];
    const results = await Promise.all(commands.map(([, args]) => cli(args, { cwd: dir })));
    for (const [i, r] of results.entries()) {
      expectClearFailure(r, /corrupt|malformed|not an SQLite database/, commands[i]![0]);
      expect(r.stderr).toContain(path);
    }
    expect(readFileSync(path).equals(bytes), 'the file must be left untouched').toBe(true);
  });

  it("refuses a file that is not a database, or is another application's, and leaves it untouched", async () => {
    const dir = tempDir();
    const notes = join(dir, 'notes.db');
    writeFileSync(notes, 'these are my notes, not a database\n'.repeat(200));
    const other = join(dir, 'other-app.db');
    const db = new Database(other);
    db.exec(
      "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')",
    );
    db.close();
    const before = [readFileSync(notes), readFileSync(other)];
    const workflow = writeWorkflow(dir, 'wf', steps, 2);
    const [run, list, foreign] = await Promise.all([
      cli(['run', workflow, '--agents', AGENTS, '--store', `sqlite:${notes}`], { cwd: dir }),
      cli(['list', '--store', `sqlite:${notes}`], { cwd: dir }),
      cli(['run', workflow, '--agents', AGENTS, '--store', `sqlite:${other}`], { cwd: dir }),
    ]);
    expectClearFailure(run, /is not an SQLite database .*left untouched/, 'run on a text file');
    expectClearFailure(list, /is not an SQLite database/, 'list on a text file');
    expectClearFailure(foreign, /not an orchestr8 one.*left untouched/, 'run on another app database');
    expect(readFileSync(notes).equals(before[0]!)).toBe(true);
    expect(readFileSync(other).equals(before[1]!)).toBe(true);
  });

  it('reports a database locked by another process, and reads it meanwhile', async () => {
    const dir = tempDir();
    const path = join(dir, 'locked.db');
    const id = await recordExecution(path, 'wf', steps, { crashAt: 'b' });
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    holder.exec("INSERT INTO definitions VALUES ('held', '1', 'h', '{}', 1)");
    const store = ['--store', `sqlite:${path}`];
    try {
      // Readers are not blocked in WAL mode; writers wait for the lock (5 s) and then fail.
      const [list, cancel] = await Promise.all([
        cli(['list', '--json', ...store], { cwd: dir }),
        cli(['cancel', id, ...store], { cwd: dir }),
      ]);
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout).map((e: { id: string }) => e.id)).toEqual([id]);
      expectClearFailure(cancel, /is locked by another connection/, 'cancel while locked');
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const after = await cli(['cancel', id, ...store], { cwd: dir });
    expect(after.code, after.stderr).toBe(0);
  }, 20_000);

  it('explains a store location that cannot be used, and an unreachable PostgreSQL, and store URLs it does not know', async () => {
    const dir = tempDir();
    const folder = join(dir, 'a-folder.db');
    mkdirSync(folder);
    const [directory, postgres, bogus] = await Promise.all([
      cli(['list', '--store', `sqlite:${folder}`], { cwd: dir }),
      cli(['list', '--store', 'postgres://127.0.0.1:1/orchestr8'], { cwd: dir }),
      cli(['list', '--store', 'bogus-store'], { cwd: dir }),
    ]);
    expectClearFailure(directory, /is a directory, not a file/, 'a directory');
    expect(postgres.code).toBe(1);
    expect(postgres.stderr).toContain('cannot connect to PostgreSQL at 127.0.0.1:1');
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain('unrecognised store "bogus-store"');
    for (const r of [postgres, bogus]) expect(r.stderr).not.toMatch(STACK_TRACE);
  });
});

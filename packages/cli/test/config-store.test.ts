/**
 * One store for every command: in a project whose config sets `store`, the history commands
 * (list, inspect, journal, cancel, prune, resume) read the executions `run` recorded there,
 * from any directory of the project, and every command's --help says where the store comes from.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS,
  assertBuilt,
  cli,
  executionIdFrom,
  recordExecution,
  useTempRoot,
} from './fixtures/harness.js';

const tempRoot = useTempRoot('config-store');
let project: string;
let db: string;
let completed: string;
let crashed: string;

beforeAll(async () => {
  assertBuilt();
  project = tempRoot();
  mkdirSync(join(project, 'workflows'), { recursive: true });
  writeFileSync(
    join(project, 'orchestr8.config.json'),
    JSON.stringify({ agents: [AGENTS], store: 'sqlite:./var/executions.db' }),
  );
  writeFileSync(
    join(project, 'workflows/one.json'),
    JSON.stringify({
      version: '1.0.0',
      metadata: { id: 'one', name: 'one' },
      steps: [{ id: 'a', agent: '@test/work', input: { own: 1, ms: 0 } }],
    }),
  );
  db = join(project, 'var/executions.db');
  const run = await cli(['run', 'workflows/one.json', '--quiet'], { cwd: project });
  expect(run.code, run.stderr).toBe(0);
  completed = executionIdFrom(run.stderr);
  crashed = await recordExecution(db, 'left-running', [{ id: 'x', deps: [], ms: 0, own: 1 }], {
    crashAt: 'x',
  });
});

describe("the project config's store, for every command", () => {
  it('is where run recorded the execution, not ./.orchestr8', () => {
    expect(existsSync(db)).toBe(true);
    expect(existsSync(join(project, '.orchestr8'))).toBe(false);
  });

  it('is listed by list, from a subdirectory too', async () => {
    const r = await cli(['list', '--json'], { cwd: join(project, 'workflows') });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { id: string }[]).map((e) => e.id)).toEqual([crashed, completed]);
  });

  it('is read by inspect and journal', async () => {
    const inspect = await cli(['inspect', completed, '--json'], { cwd: project });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout).execution.status).toBe('completed');
    const journal = await cli(['journal', completed, '--json'], { cwd: project });
    expect(journal.code, journal.stderr).toBe(0);
    expect((JSON.parse(journal.stdout) as { type: string }[]).at(-1)?.type).toBe('execution.completed');
  });

  it('is where cancel records its request and resume finds the execution', async () => {
    const cancel = await cli(['cancel', crashed], { cwd: project });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain('cancellation requested');
    const resume = await cli(['resume', crashed, '--json'], { cwd: project });
    expect(resume.stderr).not.toContain('no execution');
    expect(JSON.parse(resume.stdout).status).toBe('cancelled');
  });

  it('is pruned by prune', async () => {
    const r = await cli(['prune', '--older-than', '0s', '--json'], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).executions).toBe(2);
  });

  it('gives way to --store and ORCHESTR8_STORE', async () => {
    const flag = await cli(['list', '--store', 'sqlite:./elsewhere.db'], { cwd: project });
    expect(flag.stdout).toContain('no executions in sqlite:./elsewhere.db');
    const env = await cli(['list'], { cwd: project, env: { ORCHESTR8_STORE: 'memory' } });
    expect(env.stdout).toContain('no executions in memory');
  });
});

describe('--help of every command that takes --store', () => {
  it.each(['run', 'resume', 'list', 'inspect', 'journal', 'cancel', 'prune'])(
    '%s says the store comes from the flag, the environment, then the project config',
    async (command) => {
      const r = await cli([command, '--help']);
      expect(r.code).toBe(0);
      const help = r.stdout.replace(/\s+/g, ' ');
      expect(help).toContain(
        "$ORCHESTR8_STORE, else the project config's store, else sqlite:./.orchestr8/orchestr8.db",
      );
    },
  );
});

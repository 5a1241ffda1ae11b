// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
/**
 * `orchestr8 inspect` and `orchestr8 journal` through the real binary: the store keeps a
 * step's output whole (a resume needs it), and neither command shows the secret in it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TerminalError } from '@orchestr8/common';
import { type Agent, type AgentRegistry, createEngine, REDACTED } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

const SECRET = 'sk-live-cli-9b2c41d0';
const VAR = 'O8_CLI_REDACTION_KEY';
const tempDir = useTempRoot('redaction');

const agents: Agent[] = [
  // Uses the key as an object key and inside a longer string.
  { id: '@test/keyed', execute: (input: { key: string }) => ({ [input.key]: 1, note: `key=${input.key}` }) },
  {
    id: '@test/leaky',
    execute: (input: { key: string }) => {
      throw new TerminalError(`upstream rejected ${input.key}`);
    },
  },
];

/** An execution recorded in a SQLite file by an in-process engine that had the secret. */
async function record(db: string): Promise<string> {
  const loaded = validateWorkflowObject({
    version: '1.0.0',
    metadata: { id: 'cli-secrets' },
    context: { secretRefs: { apiKey: { env: VAR } } },
    steps: [
      { id: 'keyed', agent: '@test/keyed', input: { key: '${secrets.apiKey}' } },
      { id: 'leaky', agent: '@test/leaky', input: { key: '${secrets.apiKey}' }, onError: 'continue' },
    ],
  });
  if (!loaded.ok || !loaded.workflow) throw new Error(JSON.stringify(loaded.diagnostics));
  const registry: AgentRegistry = {
    get: (id) => agents.find((a) => a.id === id),
    has: (id) => agents.some((a) => a.id === id),
    list: () => agents,
  };
  const store = await openSqliteStore({ path: db });
  try {
    const engine = createEngine({ registry, store, env: { [VAR]: SECRET }, capabilities: { env: [VAR] } });
    const result = await engine.execute(loaded.workflow);
    expect(result.status).toBe('completed');
    // The store keeps the output whole: the views below must hide it.
    const steps = await store.getSteps(result.executionId);
    expect(JSON.stringify(steps)).toContain(SECRET);
    return result.executionId;
  } finally {
    await store.close();
  }
}

describe('orchestr8 inspect / journal with a workflow secret', () => {
  let db: string;
  let id: string;

  beforeAll(async () => {
    assertBuilt();
    db = join(tempDir(), 'secrets.db');
    id = await record(db);
  });

  it.each([
    ['inspect', ['inspect']],
    ['inspect --json', ['inspect', '--json']],
    ['journal', ['journal']],
    ['journal --ndjson', ['journal', '--ndjson']],
  ])(
    '%s prints the steps without the secret, as a key or inside a string or an error',
    async (_name, args) => {
      const r = await cli([...args, id, '--store', `sqlite:${db}`], { env: { [VAR]: SECRET } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(REDACTED);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
    },
  );

  it('shows the redacted step output and error in inspect --json', async () => {
    const r = await cli(['inspect', '--json', id, '--store', `sqlite:${db}`], { env: { [VAR]: SECRET } });
    const steps = (JSON.parse(r.stdout) as { steps: { stepId: string; output?: unknown; error?: any }[] })
      .steps;
    expect(steps.find((s) => s.stepId === 'keyed')!.output).toEqual({
      [REDACTED]: 1,
      note: `key=${REDACTED}`,
    });
    expect(steps.find((s) => s.stepId === 'leaky')!.error.message).toBe(`upstream rejected ${REDACTED}`);
  });
});

describe('orchestr8 run / resume with a workflow secret', () => {
  it('prints the result without the secret, as JSON and for a person', async () => {
    const dir = tempDir();
    const file = join(dir, 'echo-secret.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: '1.0.0',
        metadata: { id: 'echo-secret' },
        context: { secretRefs: { apiKey: { env: VAR } } },
        steps: [
          {
            id: 'echo',
            agent: '@orchestr8/echo',
            input: { note: 'key=${secrets.apiKey}' },
          },
        ],
      }),
    );
    const store = `sqlite:${join(dir, 'run.db')}`;
    for (const args of [['--json'], ['--quiet']]) {
      const r = await cli(['run', file, '--store', store, '--allow-env', VAR, ...args], {
        cwd: dir,
        env: { [VAR]: SECRET },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stdout).toContain(REDACTED);
    }
    const list = await cli(['list', '--json', '--store', store], { cwd: dir });
    const [last] = JSON.parse(list.stdout) as { id: string }[];
    const again = await cli(['resume', last!.id, '--json', '--store', store], {
      cwd: dir,
      env: { [VAR]: SECRET },
    });
    expect(again.stdout + again.stderr).not.toContain(SECRET);
    expect(again.stdout).toContain(REDACTED);
  });
});

import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoAgent, failAgent, helloWorldAgent } from '@orchestr8/agent-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowAgent } from '../src/index.js';
import { caught, compile, dataOf, entries, journal, run, testEngine } from './helpers.js';

let root: string;
const SECRET = 'sk-live-7f3a9c';
let outside: string;

const CHILD_YAML = `version: "1.0.0"
metadata:
  id: greet-child
inputs:
  type: object
  properties:
    name: { type: string }
steps:
  - id: greet
    agent: "@orchestr8/hello-world"
    input:
      name: \${inputs.name}
outputs:
  greeting: \${steps.greet.output.result}
`;

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'o8-wf-root-')));
  outside = realpathSync(mkdtempSync(join(tmpdir(), 'o8-wf-out-')));
  writeFileSync(join(root, 'child.yaml'), CHILD_YAML);
  writeFileSync(join(root, 'broken.yaml'), 'version: "1.0.0"\nmetadata: { id: broken }\nsteps: []\n');
  writeFileSync(join(outside, 'child.yaml'), CHILD_YAML);
  // Files in the root a document must not read through the agent: the default store, secrets.
  mkdirSync(join(root, '.orchestr8'));
  writeFileSync(join(root, '.orchestr8', 'orchestr8.db'), `SQLite format 3\0${SECRET}: ${SECRET}\n`);
  writeFileSync(join(root, '.orchestr8', 'child.yaml'), CHILD_YAML);
  writeFileSync(join(root, '.env.json'), JSON.stringify({ TOKEN: SECRET }));
  writeFileSync(join(root, 'notes.txt'), `${SECRET}: 1\n`);
  writeFileSync(join(root, 'CHILD.YML'), CHILD_YAML);
  // A YAML file that is no workflow, with long keys: its diagnostics would quote them.
  writeFileSync(
    join(root, 'config.yaml'),
    Array.from({ length: 200 }, (_, i) => `${SECRET}${'x'.repeat(2000)}${i}: 1`).join('\n'),
  );
  symlinkSync(join(outside, 'child.yaml'), join(root, 'linked.yaml'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const agents = [workflowAgent, helloWorldAgent, echoAgent, failAgent];
/** The operator lets workflow files load from the test's project root only. */
const GRANT = { capabilities: { agents: { '@orchestr8/workflow': { root: '/nonexistent' } } } };
beforeAll(() => {
  GRANT.capabilities.agents['@orchestr8/workflow'].root = root;
});

function parentOf(input: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return compile({
    steps: [{ id: 'sub', agent: { id: '@orchestr8/workflow', config: { root } }, input, ...extra }],
  });
}

describe('@orchestr8/workflow', () => {
  it('runs an inline child workflow and returns its execution id, status and outputs', async () => {
    // The parent renders its step input, so the child's own templates are escaped as $${...}.
    const child = {
      version: '1.0.0',
      metadata: { id: 'inline-child' },
      steps: [{ id: 'e', agent: '@orchestr8/echo', input: { v: '$${inputs.v}' } }],
      outputs: { v: '$${steps.e.output.v}' },
    };
    const { engine, clock } = testEngine(agents, GRANT);
    const r = await run(engine, clock, parentOf({ workflow: child, inputs: { v: 42 } }));
    expect(r.status).toBe('completed');
    const out = r.steps.sub!.output as { executionId: string; status: string; outputs: unknown };
    expect(out).toMatchObject({ status: 'completed', outputs: { v: 42 } });
    const record = await engine.store.getExecution(out.executionId);
    expect(record).toMatchObject({
      parentExecutionId: r.executionId,
      parentStepId: 'sub',
      workflowId: 'inline-child',
    });
    const linked = entries(await journal(engine, r.executionId), 'step.child', 'sub');
    expect(dataOf(linked[0]).childExecutionId).toBe(out.executionId);
  });

  it('loads a child workflow file relative to the project root', async () => {
    const { engine, clock } = testEngine(agents, GRANT);
    const r = await run(engine, clock, parentOf({ path: 'child.yaml', inputs: { name: 'Ada' } }));
    expect(r.status).toBe('completed');
    expect(r.steps.sub!.output).toMatchObject({ status: 'completed', outputs: { greeting: 'Hello, Ada' } });
  });

  it('refuses a path outside the project, by .. or through a symlink', async () => {
    const { engine, clock } = testEngine(agents, GRANT);
    // Rendered at run time (a template): the agent refuses it when it runs.
    for (const path of ['../child.yaml', join(outside, 'child.yaml'), 'linked.yaml']) {
      const r = await run(engine, clock, parentOf({ path: '${inputs.path}' }), { path });
      expect(r.steps.sub!.error, path).toMatchObject({ code: 'VALIDATION', retryable: false });
      expect(r.steps.sub!.error!.message).toMatch(/outside the project root/);
    }
    // Written as a literal that leaves the root: refused before anything is recorded.
    for (const path of ['../child.yaml', join(outside, 'child.yaml')]) {
      const e = await caught(() => engine.start(parentOf({ path })));
      expect(e, path).toMatchObject({ code: 'CAPABILITY_DENIED', retryable: false });
      expect(e.message).toContain(`step "sub": workflow: path "${path}" is outside the project root`);
    }
    // A symlink is followed only when the file is loaded: as written, linked.yaml is inside.
    const linked = await run(engine, clock, parentOf({ path: 'linked.yaml' }));
    expect(linked.steps.sub!.error!.message).toMatch(/outside the project root/);
    // Likewise a path whose name only looks wrong as written: a link without an extension
    // (or under a hidden-named link) to a workflow file inside the root runs.
    symlinkSync(join(root, 'child.yaml'), join(root, 'latest'));
    const latest = await run(engine, clock, parentOf({ path: 'latest', inputs: { name: 'Ada' } }));
    expect(latest.status).toBe('completed');
    expect((await engine.store.listExecutions({ limit: 100 })).items).toHaveLength(6);
  });

  it('loads only workflow documents: no other extension, nothing hidden, and none of their text comes back', async () => {
    const { engine, clock } = testEngine(agents, GRANT);
    for (const path of ['.orchestr8/orchestr8.db', '.orchestr8/child.yaml', '.env.json', 'notes.txt']) {
      const r = await run(engine, clock, parentOf({ path: '${inputs.path}' }), { path });
      expect(r.steps.sub!.error, path).toMatchObject({ code: 'VALIDATION', retryable: false });
      expect(r.steps.sub!.error!.message, path).toContain('is not a workflow file');
      expect(JSON.stringify(r.steps.sub!.error), path).not.toContain(SECRET);
      // Written as a literal: the same (judged on the real path, when the file is loaded).
      const literal = await run(engine, clock, parentOf({ path }));
      expect(literal.steps.sub!.error!.message, path).toContain('is not a workflow file');
    }
    // Nor through a step's own root: narrowed into a hidden directory, or onto a hidden file.
    for (const [config, path] of [
      [{ root: join(root, '.orchestr8') }, 'child.yaml'],
      [{ root: join(root, '.env.json') }, '.'],
    ] as const) {
      const wf = (input: string) =>
        compile({
          steps: [{ id: 'sub', agent: { id: '@orchestr8/workflow', config }, input: { path: input } }],
        });
      const r = await run(engine, clock, wf('${inputs.path}'), { path });
      expect(r.steps.sub!.error, config.root).toMatchObject({ code: 'VALIDATION' });
      expect(r.steps.sub!.error!.message, config.root).toContain('is not a workflow file');
      expect(JSON.stringify(r.steps.sub!.error), config.root).not.toContain(SECRET);
      const literal = await run(engine, clock, wf(path));
      expect(literal.steps.sub!.error!.message, config.root).toContain('is not a workflow file');
    }
    // The extension is matched whatever its case.
    const upper = await run(engine, clock, parentOf({ path: 'CHILD.YML', inputs: { name: 'Ada' } }));
    expect(upper.status).toBe('completed');
  });

  it("reports a few clipped diagnostics of an invalid file, not the file's text", async () => {
    const { engine, clock } = testEngine(agents, GRANT);
    const r = await run(engine, clock, parentOf({ path: 'config.yaml' }));
    const error = r.steps.sub!.error!;
    expect(error).toMatchObject({ code: 'VALIDATION' });
    expect(error.message).toContain('config.yaml is not a valid workflow');
    const details = error.details as { errors: number; first: { message: string; pointer: string }[] };
    expect(details.errors).toBeGreaterThan(5);
    expect(details.first).toHaveLength(5);
    // 200 keys of 2 KB each: what comes back is a few hundred characters per field, at most.
    expect(JSON.stringify(error).length).toBeLessThan(4_000);
  });

  it('fails with VALIDATION naming the problem when the file is not a valid workflow', async () => {
    const { engine, clock } = testEngine(agents, GRANT);
    const r = await run(engine, clock, parentOf({ path: 'broken.yaml' }));
    expect(r.steps.sub!.error).toMatchObject({ code: 'VALIDATION' });
    expect(r.steps.sub!.error!.message).toContain('broken.yaml is not a valid workflow');
    const missing = await run(engine, clock, parentOf({ path: 'nope.yaml' }));
    expect(missing.steps.sub!.error!.message).toContain('does not exist');
  });

  it("fails the step with the child's error code and execution id when the child fails, without retrying", async () => {
    const child = {
      version: '1.0.0',
      metadata: { id: 'failing-child' },
      steps: [
        {
          id: 'f',
          agent: '@orchestr8/fail',
          input: { always: true, retryable: false, code: 'PAYMENT_DECLINED' },
        },
      ],
    };
    const { engine, clock } = testEngine(agents, GRANT);
    const r = await run(
      engine,
      clock,
      parentOf({ workflow: child }, { policies: { retry: { maxAttempts: 3, baseDelayMs: 1 } } }),
    );
    expect(r.status).toBe('failed');
    const error = r.steps.sub!.error!;
    expect(error).toMatchObject({ code: 'PAYMENT_DECLINED', retryable: false });
    expect(r.steps.sub!.attempts).toBe(1);
    const childId = (error.details as { childExecutionId: string }).childExecutionId;
    expect(error.message).toContain(`sub-workflow execution ${childId} failed`);
    expect((await engine.store.getExecution(childId))?.status).toBe('failed');
  });

  it('requires exactly one of workflow and path', async () => {
    const { engine, clock } = testEngine(agents, GRANT);
    const r = await run(engine, clock, parentOf({ inputs: {} }));
    expect(r.steps.sub!.error).toMatchObject({ code: 'VALIDATION' });
  });
});

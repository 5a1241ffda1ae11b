/**
 * `list`, `cancel` and `validate` find the project's running local server as `run` does
 * (same rule, same messages), over real processes of the built CLI in a temp project.
 * Waits are bounded polls; no timing is asserted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENTS, cli, executionIdFrom } from './fixtures/harness.js';
import { useProjectServer } from './fixtures/project-server.js';

const HELLO = `version: "1.0.0"
metadata:
  id: hello
steps:
  - id: greet
    agent: "@orchestr8/hello-world"
    input:
      name: detection
`;
const FOREIGN = `version: "1.0.0"
metadata:
  id: foreign
steps:
  - id: a
    agent: "@acme/not-loaded"
`;
const LONG = {
  version: '1.0.0',
  metadata: { id: 'long' },
  steps: [{ id: 'nap', agent: '@orchestr8/sleep', input: { ms: 600_000 } }],
};

const server = useProjectServer('local-server-detection', {
  'hello.yaml': HELLO,
  'foreign.yaml': FOREIGN,
});
const { dir } = server;

describe('commands that find the local server', { timeout: 120_000 }, () => {
  let url = '';
  beforeAll(() => {
    url = server.url();
  });

  it('list reads the executions from the server and says so; --local and --store read the store here', async () => {
    const run = await cli(['run', 'hello.yaml'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const id = executionIdFrom(run.stderr);

    const r = await cli(['list'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `using the local server at ${url} (--local: reading the store in this process)`,
    );
    expect(r.stdout).toContain(id);
    expect(r.stdout).toContain('completed');
    const json = JSON.parse((await cli(['list', '--json'], { cwd: dir })).stdout) as { id: string }[];
    expect(json.map((e) => e.id)).toContain(id);

    const local = await cli(['list', '--local'], { cwd: dir });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).not.toContain('local server');
    expect(local.stdout).toContain(id);

    const other = await cli(['list', '--store', 'memory'], { cwd: dir });
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).toContain(
      `local server at ${url} not used: --store given; reading the store in this process`,
    );
    expect(other.stdout).not.toContain(id);
  });

  it('cancel asks the server, which stops the execution; again, it says it already finished', async () => {
    const started = await fetch(`${url}/workflows/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow: LONG }),
    });
    expect(started.status).toBe(202);
    const id = ((await started.json()) as { executionId: string }).executionId;

    const r = await cli(['cancel', id, '--wait', '--timeout', '60s'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`using the local server at ${url}`);
    expect(r.stdout).toContain(`cancellation requested for execution ${id} (on the server at ${url})`);
    expect(r.stdout).toContain(`execution ${id} cancelled`);
    const got = (await (await fetch(`${url}/executions/${id}`)).json()) as { status: string };
    expect(got.status).toBe('cancelled');

    const again = await cli(['cancel', id, '--json'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      executionId: id,
      outcome: 'finished',
      status: 'cancelled',
    });

    const missing = await cli(['cancel', '00000000-0000-4000-8000-000000000000'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no execution "00000000-0000-4000-8000-000000000000" on ${url}`);
  });

  it('validate checks agent ids against what the server loaded; --local and --agents check here', async () => {
    const ok = await cli(['validate', 'hello.yaml'], { cwd: dir });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stderr).toContain(
      `using the local server at ${url} (--local: checking agents in this process)`,
    );

    // The server does not have this agent: `run` could not run it there.
    const foreign = await cli(['validate', 'foreign.yaml'], { cwd: dir });
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toContain('@acme/not-loaded');

    // In this process, without a config, agents outside @orchestr8 cannot be checked: a note, not an error.
    const local = await cli(['validate', 'foreign.yaml', '--local'], { cwd: dir });
    expect(local.code, local.stdout).toBe(0);
    expect(local.stdout).toContain('not checked');
    expect(local.stderr).not.toContain('local server');

    const modules = await cli(['validate', 'hello.yaml', '--agents', AGENTS], { cwd: dir });
    expect(modules.code, modules.stdout + modules.stderr).toBe(0);
    expect(modules.stderr).toContain(
      `local server at ${url} not used: --agents given; checking agents in this process`,
    );
  });

  it('--server and --local together are a usage error', async () => {
    for (const args of [['list'], ['cancel', 'x']]) {
      const r = await cli([...args, '--server', url, '--local'], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--server and --local exclude each other');
    }
  });
});

describe('without a running server', { timeout: 120_000 }, () => {
  it('list and validate work in this process, silently', async () => {
    const stop = await cli(['server', 'stop'], { cwd: dir });
    expect(stop.code, stop.stderr).toBe(0);
    const list = await cli(['list'], { cwd: dir });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stderr).not.toContain('local server');
    // The same executions, read from the store the server wrote.
    expect(list.stdout).toContain('long@1.0.0');
    expect(list.stdout).toContain('hello@1.0.0');
    const validate = await cli(['validate', 'hello.yaml'], { cwd: dir });
    expect(validate.code).toBe(0);
    expect(validate.stderr).not.toContain('local server');
  });
});

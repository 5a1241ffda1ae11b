/**
 * The console end to end: the built CLI's `orchestr8 serve` on a SQLite file, driven by a real
 * Chromium (Debian's, through playwright-core). Screenshots are taken along the way; those of
 * a failed test are kept under packages/console/test-artifacts/ (gitignored).
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, cli, type Served, serve, startCli } from '../../cli/test/fixtures/harness.js';
import { CHROMIUM, CHROMIUM_ARGS } from './fixtures/browser.js';

const here = dirname(fileURLToPath(import.meta.url));
const AGENTS = join(here, 'fixtures', 'agents.mjs');
const ARTIFACTS = join(here, '..', 'test-artifacts');

const dir = mkdtempSync(join(tmpdir(), 'o8-console-e2e-'));
const flag = join(dir, 'gate-closed');
let server: Served;
let browser: Browser;
let page: Page;
let shots: string;
let shotCount = 0;
/** Requests the page made to anywhere but the server (the console must make none). */
let foreign: string[] = [];

const demo = {
  version: '1.0.0',
  metadata: { id: 'console-demo', name: 'Console demo' },
  inputs: {
    type: 'object',
    required: ['name', 'flag'],
    properties: {
      name: { type: 'string', minLength: 2, description: 'Who the run is for' },
      flag: { type: 'string' },
      tries: { type: 'integer', minimum: 1, maximum: 3, default: 2 },
    },
    additionalProperties: false,
  },
  steps: [
    { id: 'start', agent: '@console/echo', input: { name: '${inputs.name}' } },
    {
      id: 'flaky',
      agent: '@console/flaky',
      dependencies: ['start'],
      input: { ms: 200, succeedAt: '${inputs.tries}' },
      policies: { retry: { maxAttempts: 3, baseDelayMs: 1500, jitter: 'none' } },
    },
    {
      id: 'gate',
      agent: '@console/gate',
      dependencies: ['flaky'],
      input: { flag: '${inputs.flag}', name: '${steps.start.output.name}' },
      policies: { retry: { maxAttempts: 1 } },
    },
    {
      id: 'end',
      agent: '@console/echo',
      dependencies: ['gate'],
      input: { done: '${steps.gate.output.name}' },
    },
  ],
};

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function shot(name: string): Promise<void> {
  await page.screenshot({
    path: join(shots, `${String(++shotCount).padStart(2, '0')}-${name}.png`),
    fullPage: true,
  });
}

/** The status the DAG shows for a step, as the node's data attribute. */
const nodeStatus = (step: string) =>
  page.locator(`.react-flow__node [data-step="${step}"]`).getAttribute('data-status');

async function waitForNode(step: string, status: string, timeout = 30_000): Promise<void> {
  await page.waitForSelector(`.react-flow__node [data-step="${step}"][data-status="${status}"]`, { timeout });
}

async function waitForExecutionStatus(status: string, timeout = 30_000): Promise<void> {
  await page.waitForSelector(`#execution-title [data-status="${status}"]`, { timeout });
}

async function journalTypes(
  executionId: string,
): Promise<{ type: string; stepId?: string; data?: unknown }[]> {
  const res = await fetch(`${server.url}/executions/${executionId}/journal`);
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; stepId?: string; data?: unknown });
}

beforeAll(async () => {
  assertBuilt();
  if (!existsSync(join(here, '..', 'dist', 'app', 'index.html')))
    throw new Error('the console is not built: run pnpm turbo run build');
  server = await serve(['--port', '0', '--store', `sqlite:${join(dir, 'o8.db')}`, '--agents', AGENTS], {
    cwd: dir,
  });
  const put = await api(`/workflows/console-demo`, { method: 'PUT', body: JSON.stringify(demo) });
  expect(put.status).toBe(201);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  shots = mkdtempSync(join(tmpdir(), 'o8-console-shots-'));
  shotCount = 0;
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, colorScheme: 'light' });
  foreign = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (
      u.protocol !== 'data:' &&
      !r.url().startsWith(`${new URL(server.url).origin}/`) &&
      !r.url().startsWith(keyed?.url ?? '\0')
    )
      foreign.push(r.url());
  });
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    await shot('failure').catch(() => {});
    const to = join(ARTIFACTS, ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80));
    mkdirSync(to, { recursive: true });
    cpSync(shots, to, { recursive: true });
  }
  rmSync(shots, { recursive: true, force: true });
  await page.close();
});

describe('the console in a browser, against orchestr8 serve on SQLite', () => {
  it('refuses invalid input in the run form, then runs: the DAG colours steps live, the panel shows the error, retry completes it, rerun re-runs only the steps from the one chosen', async () => {
    writeFileSync(flag, 'closed');
    await page.goto(`${server.url}/console/workflows/console-demo`);
    await page.waitForSelector('form[aria-label="Run form"]');
    // The document, checked by the server: valid, no warnings.
    await page.waitForSelector('[data-testid="diagnostics"][data-valid="true"]');
    expect(await page.textContent('[data-testid="diagnostics"]')).toContain('valid, no warnings');
    await page.fill('#input-name', 'x');
    await page.fill('#input-flag', flag);
    await page.fill('#input-tries', '9');
    await page.click('form[aria-label="Run form"] button[type="submit"]');
    await page.waitForSelector('#input-name-error');
    expect(await page.textContent('#input-name-error')).toContain('must be at least 2 characters');
    expect(await page.textContent('#input-tries-error')).toContain('must be at most 3');
    await shot('run-form-refuses');
    // Nothing was started.
    expect((await api<{ items: unknown[] }>('/executions')).body.items).toHaveLength(0);

    await page.fill('#input-name', 'ada');
    await page.fill('#input-tries', '2');
    await page.click('form[aria-label="Run form"] button[type="submit"]');
    await page.waitForURL(/\/console\/executions\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;

    // Live: the flaky step is seen retrying (its back-off is 1.5 s), then completed on attempt 2.
    await waitForNode('flaky', 'retrying');
    await shot('flaky-retrying');
    await waitForNode('flaky', 'completed');
    await waitForNode('gate', 'failed');
    await waitForExecutionStatus('failed');
    expect(await nodeStatus('start')).toBe('completed');
    expect(await nodeStatus('end')).not.toBe('completed');
    // Colours come from the status: the failed node is painted in the failed colour.
    const fill = await page.evaluate(
      `getComputedStyle(document.querySelector('.react-flow__node [data-step="gate"]')).backgroundColor`,
    );
    expect(fill).toBe('rgb(242, 139, 130)');
    await shot('failed');

    // The step panel: the error's code, message and cause; the flaky step's two attempts.
    await page.click('.react-flow__node [data-step="gate"]');
    await page.waitForSelector('[data-testid="step-error"]');
    const error = await page.textContent('[data-testid="step-error"]');
    expect(error).toContain('GATE_CLOSED');
    expect(error).toContain('the gate is closed');
    expect(error).toContain(`the flag file ${flag} exists`);
    await page.selectOption('select[aria-label="Select a step"]', 'flaky');
    await page.waitForSelector('table[aria-label="Attempts"] tbody tr:nth-child(2)');
    expect(await page.locator('table[aria-label="Attempts"] tbody tr').count()).toBe(2);
    await shot('step-panel');
    // The timeline shows both attempts and the back-off between them.
    await page.click('button[role="tab"]:has-text("Timeline")');
    await page.waitForSelector('tr[data-step="flaky"] [data-kind="backoff"]');
    expect(await page.locator('tr[data-step="flaky"] [data-kind="attempt"]').count()).toBe(2);
    await page.click('button[role="tab"]:has-text("Graph")');

    // Retry: in the same execution, the failed step runs again and the execution completes.
    rmSync(flag);
    await page.click('button:has-text("Retry")');
    await page.click('dialog[open] button.primary:has-text("Retry")');
    await waitForNode('gate', 'completed');
    await waitForNode('end', 'completed');
    await waitForExecutionStatus('completed');
    await shot('retried');
    const afterRetry = await journalTypes(id);
    // start and flaky kept their outputs: each started once (flaky once, then attempt 2).
    expect(afterRetry.filter((e) => e.type === 'step.started' && e.stepId === 'start')).toHaveLength(1);
    expect(afterRetry.filter((e) => e.type === 'step.started' && e.stepId === 'gate')).toHaveLength(2);

    // Rerun from gate with a changed input: the plan says what runs again and what is reused.
    await page.selectOption('select[aria-label="Select a step"]', 'gate');
    await page.click('button:has-text("Rerun from step")');
    await page.waitForSelector('[data-testid="rerun-plan"]');
    expect(await page.textContent('[data-plan="rerun"]')).toBe('gate, end');
    expect(await page.textContent('[data-plan="reused"]')).toBe('start, flaky');
    // Only gate reads the flag input: changing it re-runs gate (and end), not start or flaky.
    const otherFlag = join(dir, 'no-such-flag');
    await page.fill('dialog[open] textarea', JSON.stringify({ name: 'ada', flag: otherFlag, tries: 2 }));
    await page.click('dialog[open] button:has-text("Update plan")');
    await page.waitForSelector('[data-plan="changed"]');
    expect(await page.textContent('[data-plan="changed"]')).toBe('flag');
    expect(await page.textContent('[data-plan="rerun"]')).toBe('gate, end');
    await shot('rerun-plan');
    await page.click('dialog[open] button.primary:has-text("Start rerun")');
    await page.waitForURL(
      (u) => /\/console\/executions\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(id),
    );
    const rerunId = page.url().split('/').pop()!;
    await waitForExecutionStatus('completed');
    expect(await page.textContent('[data-testid="rerun-of"]')).toContain(id.slice(0, 8));
    await shot('rerun');
    const rerun = await journalTypes(rerunId);
    const started = rerun.filter((e) => e.type === 'step.started');
    expect(started.map((e) => e.stepId).sort()).toEqual(['end', 'gate']);
    // The changed input reached the re-run step; the reused ones kept the original's outputs.
    expect(started.find((e) => e.stepId === 'gate')?.data).toMatchObject({ input: { flag: otherFlag } });
    const view = await api<{ steps: Record<string, { output?: unknown }> }>(`/executions/${rerunId}`);
    expect(view.body.steps.start?.output).toEqual({ name: 'ada' });
    expect(view.body.steps.flaky?.output).toEqual({ attempt: 2 });
    expect(view.body.steps.gate?.output).toEqual({ opened: true, name: 'ada' });
    // Offline: the page asked nothing of any other origin.
    expect(foreign).toEqual([]);
  }, 120_000);

  it('cancels a running execution from its page', async () => {
    const started = await api<{ executionId: string }>('/workflows/execute', {
      method: 'POST',
      body: JSON.stringify({
        workflow: {
          version: '1.0.0',
          metadata: { id: 'console-slow' },
          steps: [
            { id: 'first', agent: '@console/echo', input: {} },
            { id: 'wait', agent: '@console/slow', dependencies: ['first'], input: { ms: 60_000 } },
            { id: 'after', agent: '@console/echo', dependencies: ['wait'], input: {} },
          ],
        },
      }),
    });
    const id = started.body.executionId;
    await page.goto(`${server.url}/console/executions/${id}`);
    await waitForNode('wait', 'running');
    // Keyboard: a node of the graph takes the focus, and Enter opens its panel.
    await page.focus('.react-flow__node[data-id="first"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#step-title:has-text("first")');
    // Escape closes the dialog and does nothing.
    await page.click('button.danger:has-text("Cancel")');
    await page.waitForSelector('dialog[open]');
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    expect((await api<{ status: string }>(`/executions/${id}`)).body.status).toBe('running');
    await page.click('button.danger:has-text("Cancel")');
    await page.waitForSelector('dialog[open]');
    await shot('cancel-confirm');
    await page.click('dialog[open] button.danger:has-text("Cancel execution")');
    await waitForExecutionStatus('cancelled');
    await waitForNode('wait', 'cancelled');
    await shot('cancelled');
    expect((await api<{ status: string }>(`/executions/${id}`)).body.status).toBe('cancelled');
  }, 60_000);

  it('resumes an execution left running by a process that died', async () => {
    const file = join(dir, 'resume.yaml');
    const latch = join(dir, 'resume-latch');
    writeFileSync(
      file,
      [
        'version: "1.0.0"',
        'metadata: { id: console-resume }',
        'steps:',
        '  - id: first',
        '    agent: "@console/echo"',
        '  - id: hold',
        '    agent: "@console/latch"',
        '    dependencies: [first]',
        `    input: { file: "${latch}" }`,
        '  - id: last',
        '    agent: "@console/echo"',
        '    dependencies: [hold]',
        '',
      ].join('\n'),
    );
    // `orchestr8 run` in its own process on the server's store, killed while a step runs.
    const run = startCli(
      ['run', file, '--local', '--quiet', '--store', `sqlite:${join(dir, 'o8.db')}`, '--agents', AGENTS],
      {
        cwd: dir,
      },
    );
    let id = '';
    await expect
      .poll(
        async () => {
          const list = await api<{ items: { executionId: string }[] }>(
            '/executions?workflowId=console-resume',
          );
          id = list.body.items[0]?.executionId ?? '';
          if (!id) return undefined;
          return (await api<{ steps: Record<string, { status: string }> }>(`/executions/${id}`)).body.steps
            .hold?.status;
        },
        { timeout: 30_000 },
      )
      .toBe('running');
    run.child.kill('SIGKILL');
    await run.done;
    await page.goto(`${server.url}/console/executions/${id}`);
    await waitForExecutionStatus('running');
    await page.click('button:has-text("Resume")');
    await page.click('dialog[open] button.primary:has-text("Resume")');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    writeFileSync(latch, 'go');
    await waitForNode('last', 'completed');
    await waitForExecutionStatus('completed');
    await shot('resumed');
    const journal = await journalTypes(id);
    // first ran once, before the crash; hold ran again in the server.
    expect(journal.filter((e) => e.type === 'step.started' && e.stepId === 'first')).toHaveLength(1);
    expect(journal.some((e) => e.type === 'execution.resumed')).toBe(true);
  }, 90_000);

  it('draws a graph above 200 steps simplified: every step a box in its status colour, chosen by a click', async () => {
    const steps = Array.from({ length: 250 }, (_, i) => ({
      id: `s${i}`,
      agent: '@console/echo',
      input: { i },
      ...(i > 0 ? { dependencies: [`s${Math.floor((i - 1) / 4)}`] } : {}),
    }));
    const started = await api<{ executionId: string }>('/workflows/execute', {
      method: 'POST',
      headers: { prefer: 'wait=30' },
      body: JSON.stringify({ workflow: { version: '1.0.0', metadata: { id: 'console-large' }, steps } }),
    });
    await page.goto(`${server.url}/console/executions/${started.body.executionId}`);
    await page.waitForSelector('[data-testid="dag"][data-simplified="true"]');
    await waitForExecutionStatus('completed');
    // Counted through locators: a string predicate polled in the page is eval, which the console's CSP refuses.
    await expect
      .poll(() => page.locator('[data-testid="dag"] rect[data-status="completed"]').count(), {
        timeout: 20_000,
      })
      .toBe(250);
    await page.click('[data-testid="dag"] rect[data-step="s0"]', { force: true });
    await page.waitForSelector('#step-title:has-text("s0")');
    await page.click('button[aria-label="Zoom in"]');
    await shot('large-graph');
  }, 60_000);

  it('lists executions newest first, filters by status and opens one by its id', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('table[aria-label="Executions"] tbody tr');
    // The first Tab reaches the link past the navigation.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    const all = await api<{ items: { executionId: string; status: string }[] }>('/executions');
    const rows = page.locator('table[aria-label="Executions"] tbody tr');
    expect(await rows.count()).toBe(all.body.items.length);
    expect(await rows.first().getAttribute('data-execution')).toBe(all.body.items[0]!.executionId);
    await page.check('input[name="status"][value="cancelled"]');
    await page.click('form[aria-label="Filters"] button[type="submit"]');
    await page.waitForURL(/status=cancelled/);
    await expect
      .poll(() => rows.count(), { timeout: 20_000 })
      .toBe(all.body.items.filter((i) => i.status === 'cancelled').length);
    await shot('filtered');
    // Live: an execution that ends while the list is shown appears in it without a reload.
    const cancelledRows = all.body.items.filter((i) => i.status === 'cancelled').length;
    const slow = await api<{ executionId: string }>('/workflows/execute', {
      method: 'POST',
      body: JSON.stringify({
        workflow: {
          version: '1.0.0',
          metadata: { id: 'console-live' },
          steps: [{ id: 'wait', agent: '@console/slow', input: { ms: 60_000 } }],
        },
      }),
    });
    await api(`/executions/${slow.body.executionId}/cancel`, { method: 'POST', body: '{}' });
    await page.waitForSelector(`tr[data-execution="${slow.body.executionId}"]`, { timeout: 20_000 });
    expect(await rows.count()).toBe(cancelledRows + 1);
    const target = all.body.items.at(-1)!.executionId;
    await page.fill('input[name="q"]', target);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/console/executions/${target}$`));
  }, 60_000);
});

describe('approvals and schedules in the console', () => {
  it('approves a waiting step with its form, refusing the form while a required field is empty', async () => {
    const started = await api<{ executionId: string }>('/workflows/execute', {
      method: 'POST',
      body: JSON.stringify({
        workflow: {
          version: '1.0.0',
          metadata: { id: 'console-approval' },
          steps: [
            {
              id: 'ok',
              wait: {
                approval: {
                  title: 'Refund the order?',
                  form: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
                },
              },
            },
            {
              id: 'after',
              agent: '@console/echo',
              dependencies: ['ok'],
              input: { amount: '${steps.ok.output.data.amount}' },
            },
          ],
        },
      }),
    });
    const id = started.body.executionId;
    await page.goto(`${server.url}/console/approvals`);
    const card = page.locator('form[aria-label="Approval Refund the order?"]');
    await card.waitFor({ timeout: 20_000 });
    await card.locator('button:has-text("Approve")').click();
    await card.locator('.field-error:has-text("is required")').waitFor();
    await shot('approval-refused');
    await card.locator('label.field:has-text("amount") input').fill('12');
    await card.locator('label.field:has-text("By") input').fill('ann');
    await card.locator('button:has-text("Approve")').click();
    await expect
      .poll(async () => (await api<{ status: string }>(`/executions/${id}`)).body.status, { timeout: 20_000 })
      .toBe('completed');
    const view = await api<{ steps: Record<string, { output?: unknown }> }>(`/executions/${id}`);
    expect(view.body.steps.after?.output).toEqual({ amount: 12 });
    await page.waitForSelector('text=Nothing waits for a decision.', { timeout: 20_000 });
  }, 60_000);

  it('shows a schedule with its next fire time; pauses, resumes and triggers it now', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'console-scheduled' },
      steps: [{ id: 'hi', agent: '@console/echo', input: { hi: 1 } }],
      triggers: [{ name: 'nightly', schedule: { cron: '0 3 * * *', timezone: 'UTC' } }],
    };
    expect(
      (await api('/workflows/console-scheduled', { method: 'PUT', body: JSON.stringify(doc) })).status,
    ).toBe(201);
    await page.goto(`${server.url}/console/schedules`);
    const row = page.locator('table[aria-label="Triggers"] tr:has-text("console-scheduled")');
    await row.waitFor({ timeout: 20_000 });
    // The next 03:00 UTC, as this browser shows times.
    const next = new Date();
    next.setUTCHours(3, 0, 0, 0);
    if (next.getTime() <= Date.now()) next.setUTCDate(next.getUTCDate() + 1);
    expect(await row.locator('time').first().getAttribute('datetime')).toBe(next.toISOString());
    await row.locator('button:has-text("Pause")').click();
    await row.locator('button:has-text("Resume")').waitFor();
    expect(await row.textContent()).toContain('paused');
    await shot('schedule-paused');
    await row.locator('button:has-text("Resume")').click();
    await row.locator('button:has-text("Pause")').waitFor();
    await row.locator('button:has-text("Trigger now")').click();
    await expect
      .poll(
        async () =>
          (await api<{ items: unknown[] }>('/executions?workflowId=console-scheduled')).body.items.length,
        {
          timeout: 20_000,
        },
      )
      .toBe(1);
  }, 60_000);
});

let keyed: Served | undefined;

describe('the console of a server with API keys, and the commands that open it', () => {
  const KEY = 'console-e2e-key';
  const opened = join(dir, 'opened.txt');
  const recorder = join(dir, 'browser.sh');
  const env = { BROWSER: recorder };
  const openedUrls = () => (existsSync(opened) ? readFileSync(opened, 'utf8').trim().split('\n') : []);

  beforeAll(async () => {
    // A "browser" that writes down what it was asked to open.
    writeFileSync(recorder, `#!/bin/sh\necho "$1" >> '${opened}'\n`);
    chmodSync(recorder, 0o755);
    keyed = await serve(
      [
        '--port',
        '0',
        '--store',
        `sqlite:${join(dir, 'keyed.db')}`,
        '--agents',
        AGENTS,
        '--api-keys',
        KEY,
        '--open',
      ],
      { cwd: dir, env },
    );
  }, 60_000);

  afterAll(async () => {
    await keyed?.stop();
  });

  it('serve --open opens the console; it asks for the key once, keeps it, and follows an execution live with it', async () => {
    const url = keyed!.url;
    await expect.poll(openedUrls, { timeout: 10_000 }).toEqual([`${url}/`]);
    await page.goto(`${url}/`);
    await page.waitForSelector('input[type="password"]');
    await shot('key-prompt');
    await page.fill('input[type="password"]', KEY);
    await page.click('button:has-text("Save")');
    await page.waitForSelector('table[aria-label="Executions"]');
    expect(await page.evaluate("localStorage.getItem('orchestr8.apiKey')")).toBe(KEY);
    // Kept: a reload asks nothing.
    await page.reload();
    await page.waitForSelector('table[aria-label="Executions"]');
    expect(await page.locator('input[type="password"]').count()).toBe(0);

    const res = await fetch(`${url}/workflows/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({
        workflow: {
          version: '1.0.0',
          metadata: { id: 'console-keyed' },
          steps: [
            { id: 'wait', agent: '@console/slow', input: { ms: 1500 } },
            { id: 'after', agent: '@console/echo', dependencies: ['wait'], input: {} },
          ],
        },
      }),
    });
    const { executionId } = (await res.json()) as { executionId: string };
    await page.goto(`${url}/console/executions/${executionId}`);
    // The stream carries the key: the page sees the step run, then the execution complete.
    await waitForNode('wait', 'running');
    await waitForNode('after', 'completed');
    await waitForExecutionStatus('completed');
    await shot('keyed-live');
    expect(foreign).toEqual([]);
    // Forgotten: the key is gone and the next request asks for it again.
    await page.click('button:has-text("Forget API key")');
    await page.waitForSelector('input[type="password"]');
    expect(await page.evaluate("localStorage.getItem('orchestr8.apiKey')")).toBeNull();
  }, 60_000);

  it('orchestr8 console opens the console (or one execution), prints it with --print, and says when no server answers', async () => {
    const url = keyed!.url;
    const printed = await cli(['console', '--url', url, '--print'], { cwd: dir, env });
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toBe(`${url}/`);
    const one = await cli(['console', 'abc-123', '--url', url], { cwd: dir, env });
    expect(one.code).toBe(0);
    expect(openedUrls()).toContain(`${url}/console/executions/abc-123`);
    const none = await cli(['console', '--url', 'http://127.0.0.1:9'], { cwd: dir, env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no orchestr8 server answers at http://127.0.0.1:9');
    // No browser to start: the URL is printed instead.
    const headless = await cli(['console', '--url', url], {
      cwd: dir,
      env: { BROWSER: join(dir, 'no-such-browser') },
    });
    expect(headless.code).toBe(0);
    expect(headless.stdout).toContain(`open the console in a browser: ${url}/`);
  }, 60_000);

  it('run --open on a server opens the running execution in the console', async () => {
    const file = join(dir, 'hello.yaml');
    writeFileSync(
      file,
      'version: "1.0.0"\nmetadata: { id: console-run-open }\nsteps:\n  - id: hi\n    agent: "@console/echo"\n    input: { hi: 1 }\n',
    );
    const r = await cli(['run', file, '--server', keyed!.url, '--open'], {
      cwd: dir,
      env: { ...env, ORCHESTR8_API_KEY: KEY },
    });
    expect(r.code).toBe(0);
    const id = /^execution ([0-9a-f-]{36}) · /m.exec(r.stderr)?.[1];
    expect(id).toBeDefined();
    expect(openedUrls()).toContain(`${keyed!.url}/console/executions/${id}`);
  }, 60_000);
});

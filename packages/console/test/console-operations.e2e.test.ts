/**
 * The console's operations say what they will do and what went wrong, in a real Chromium
 * against the built CLI's `orchestr8 serve`: a rerun starts only with the plan shown, Reject
 * asks first, each dialog is announced by its own title, a refused key and a server that does
 * not answer are said plainly, and the Schedules page names its columns for what they hold.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, type Served, serve } from '../../cli/test/fixtures/harness.js';
import { CHROMIUM, CHROMIUM_ARGS } from './fixtures/browser.js';

const here = dirname(fileURLToPath(import.meta.url));
const AGENTS = join(here, 'fixtures', 'agents.mjs');

const dir = mkdtempSync(join(tmpdir(), 'o8-console-ops-'));
const KEY = 'console-ops-key';
let server: Served;
let keyed: Served;
let browser: Browser;
let page: Page;

async function api<T>(
  path: string,
  init: RequestInit = {},
  base = server.url,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function execute(workflow: unknown, inputs?: unknown): Promise<string> {
  const r = await api<{ executionId: string }>('/workflows/execute', {
    method: 'POST',
    headers: { prefer: 'wait=30' },
    body: JSON.stringify({ workflow, ...(inputs ? { inputs } : {}) }),
  });
  expect(r.body.executionId).toBeDefined();
  return r.body.executionId;
}

async function startedSteps(executionId: string): Promise<string[]> {
  const text = await (await fetch(`${server.url}/executions/${executionId}/journal`)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; stepId?: string })
    .filter((e) => e.type === 'step.started')
    .map((e) => e.stepId!)
    .sort();
}

beforeAll(async () => {
  assertBuilt();
  const common = ['--port', '0', '--agents', AGENTS];
  [server, keyed] = await Promise.all([
    serve([...common, '--store', `sqlite:${join(dir, 'o8.db')}`], { cwd: dir }),
    serve([...common, '--store', `sqlite:${join(dir, 'keyed.db')}`, '--api-keys', KEY], { cwd: dir }),
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), keyed?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, colorScheme: 'light' });
});

afterEach(async () => {
  await page.close();
});

describe('operations on an execution', () => {
  it('starts a rerun only with the plan shown: editing the inputs hides the plan and disables Start rerun until the plan for them is shown', async () => {
    const id = await execute(
      {
        version: '1.0.0',
        metadata: { id: 'console-ops-rerun' },
        inputs: { type: 'object', properties: { name: { type: 'string' } } },
        steps: [
          { id: 'greet', agent: '@console/echo', input: { name: '${inputs.name}' } },
          { id: 'shape', agent: '@console/echo', dependencies: ['greet'], input: { n: 1 } },
          { id: 'deliver', agent: '@console/echo', dependencies: ['shape'], input: { n: 2 } },
        ],
      },
      { name: 'ada' },
    );
    await page.goto(`${server.url}/console/executions/${id}`);
    await page.waitForSelector('#execution-title [data-status="completed"]');
    await page.click('button:has-text("Rerun from step")');
    const dialog = page.locator('dialog[open]');
    const start = dialog.locator('button.primary:has-text("Start rerun")');
    await dialog.locator('select').selectOption('deliver');
    await expect.poll(() => dialog.locator('[data-plan="reused"]').textContent()).toBe('greet, shape');
    expect(await start.isEnabled()).toBe(true);

    // Plans asked for from now on are held until released, so what the dialog shows meanwhile
    // does not depend on how fast this machine is.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route(`**/executions/${id}/rerun`, async (route) => {
      if (route.request().postDataJSON()?.dryRun === true) await held;
      await route.continue();
    });
    // Edited inputs: the plan shown was for the old ones, so it goes and Start rerun waits.
    await dialog.locator('textarea').fill(JSON.stringify({ name: 'grace' }));
    expect(await dialog.locator('[data-testid="rerun-plan"]').count()).toBe(0);
    expect(await start.isDisabled()).toBe(true);
    release();
    // After a pause in typing, the plan for the new inputs: greet reads the changed name.
    await expect.poll(() => dialog.locator('[data-plan="changed"]').textContent()).toBe('name');
    expect(await dialog.locator('[data-plan="rerun"]').textContent()).toBe('greet, shape, deliver');
    expect(await start.isEnabled()).toBe(true);

    // Inputs that are not an object: no plan, and nothing can start.
    await dialog.locator('textarea').fill('[1');
    await dialog.locator('.error:has-text("inputs")').waitFor();
    expect(await start.isDisabled()).toBe(true);
    await dialog.locator('textarea').fill(JSON.stringify({ name: 'grace' }));
    await dialog.locator('[data-plan="changed"]').waitFor();

    await start.click();
    await page.waitForURL(
      (u) => /\/console\/executions\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(id),
    );
    const rerunId = page.url().split('/').pop()!;
    await page.waitForSelector('#execution-title [data-status="completed"]');
    // What the plan said ran: all three steps, with the new name.
    expect(await startedSteps(rerunId)).toEqual(['deliver', 'greet', 'shape']);
    const view = await api<{ steps: Record<string, { output?: unknown }> }>(`/executions/${rerunId}`);
    expect(view.body.steps.greet?.output).toEqual({ name: 'grace' });
  }, 60_000);

  it('announces each confirmation dialog by its own title', async () => {
    const id = await execute({
      version: '1.0.0',
      metadata: { id: 'console-ops-fails' },
      steps: [{ id: 'gate', agent: '@console/gate', input: { flag: AGENTS, name: 'x' } }],
    });
    await page.goto(`${server.url}/console/executions/${id}`);
    await page.waitForSelector('#execution-title [data-status="failed"]');
    await page.click('button:has-text("Retry")');
    await page.getByRole('dialog', { name: 'Retry the failed steps?' }).waitFor();
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    await page.click('button:has-text("Rerun from step")');
    await page.getByRole('dialog', { name: 'Rerun from a step' }).waitFor();
    // The four dialogs of the page have four distinct title ids.
    const ids = await page
      .locator('dialog')
      .evaluateAll((ds) => ds.map((d) => d.getAttribute('aria-labelledby')));
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  }, 60_000);
});

describe('approvals', () => {
  it('asks before rejecting, naming the execution and the step; cancelling it leaves the step waiting', async () => {
    const started = await api<{ executionId: string }>('/workflows/execute', {
      method: 'POST',
      body: JSON.stringify({
        workflow: {
          version: '1.0.0',
          metadata: { id: 'console-ops-approval' },
          steps: [{ id: 'sign-off', wait: { approval: { title: 'Ship it?' } } }],
        },
      }),
    });
    const id = started.body.executionId;
    await page.goto(`${server.url}/console/approvals`);
    const card = page.locator('form[aria-label="Approval Ship it?"]');
    await card.waitFor({ timeout: 20_000 });
    await card.locator('button:has-text("Reject")').click();
    const name = `Reject step sign-off of execution ${id.slice(0, 8)}?`;
    const dialog = page.getByRole('dialog', { name });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(id);
    // Cancel: nothing was decided.
    await dialog.locator('button:has-text("Cancel")').click();
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    expect((await api<{ items: unknown[] }>('/approvals')).body.items).toHaveLength(1);
    await card.locator('button:has-text("Reject")').click();
    await dialog.locator('button.danger:has-text("Reject")').click();
    await expect
      .poll(async () => (await api<{ status: string }>(`/executions/${id}`)).body.status, { timeout: 20_000 })
      .toBe('failed');
    await page.waitForSelector('text=Nothing waits for a decision.', { timeout: 20_000 });
  }, 60_000);

  it('shows 50 approvals at a time, with Previous and Next; a page whose approvals were all decided goes back, as far as it must', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 105; i++) {
      const started = await api<{ executionId: string }>('/workflows/execute', {
        method: 'POST',
        body: JSON.stringify({
          workflow: {
            version: '1.0.0',
            metadata: { id: 'console-ops-many-approvals' },
            steps: [{ id: 'sign-off', wait: { approval: { title: `Ship ${i}?` } } }],
          },
        }),
      });
      ids.push(started.body.executionId);
    }
    const pending = async () => (await api<{ items: unknown[] }>('/approvals?limit=1000')).body.items.length;
    await expect.poll(pending, { timeout: 20_000 }).toBeGreaterThanOrEqual(105);
    const total = await pending();
    // The page asks the server for one page of 50 at a time (the next one by its cursor).
    const asked: URL[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/approvals') asked.push(u);
    });
    await page.goto(`${server.url}/console/approvals`);
    const range = page.locator('[data-testid="approval-range"]');
    await expect.poll(() => range.textContent(), { timeout: 20_000 }).toBe('approvals 1–50 (more waiting)');
    const cards = page.locator('form[aria-label^="Approval "]');
    expect(await cards.count()).toBe(50);
    await page.click('button:has-text("Next")');
    await expect.poll(() => range.textContent()).toBe('approvals 51–100 (more waiting)');
    // The pager is below the cards too.
    const nextButtons = page.locator('button:has-text("Next")');
    expect(await nextButtons.count()).toBe(2);
    await nextButtons.last().click();
    await expect.poll(() => range.textContent()).toBe(`approvals 101–${total}`);
    expect(await cards.count()).toBe(total - 100);
    expect(asked.some((u) => u.searchParams.has('cursor'))).toBe(true);
    await page.click('button:has-text("Previous")');
    await expect.poll(() => range.textContent()).toBe('approvals 51–100 (more waiting)');
    await page.click('button:has-text("Next")');
    await expect.poll(() => range.textContent()).toBe(`approvals 101–${total}`);
    for (const u of asked) expect(u.searchParams.get('limit'), u.search).toBe('50');

    // Decided elsewhere: every approval after the first 50 (pages 2 and 3). Page 3 comes
    // back empty, so the page goes back to page 2, which comes back empty too: back to 1.
    const oldest = total - 105;
    const decided = ids.slice(Math.max(0, 50 - oldest));
    for (const id of decided) await api(`/executions/${id}/cancel`, { method: 'POST', body: '{}' });
    const left = total - decided.length;
    await expect.poll(() => cards.count(), { timeout: 30_000 }).toBe(Math.min(50, left));
    if (left <= 50) expect(await range.count()).toBe(0);
    else await expect.poll(() => range.textContent()).toBe('approvals 1–50 (more waiting)');
    for (const id of ids) await api(`/executions/${id}/cancel`, { method: 'POST', body: '{}' });
  }, 90_000);
});

describe('when the server refuses or does not answer', () => {
  it('says that the server refused the key when the key prompt comes back', async () => {
    await page.goto(`${keyed.url}/`);
    await page.waitForSelector('input[type="password"]');
    // First time: nothing was refused yet.
    expect(await page.locator('[data-testid="key-refused"]').count()).toBe(0);
    await page.fill('input[type="password"]', 'not-the-key');
    await page.click('button:has-text("Save")');
    await page.waitForSelector('[data-testid="key-refused"]');
    expect(await page.textContent('[data-testid="key-refused"]')).toContain('refused');
    expect(await page.textContent('[data-testid="key-refused"]')).toContain('401');
    await page.fill('input[type="password"]', KEY);
    await page.click('button:has-text("Save")');
    await page.waitForSelector('table[aria-label="Executions"]');
    expect(await page.locator('[data-testid="key-refused"]').count()).toBe(0);
  }, 60_000);

  it('says the server does not answer, with its address, instead of "no executions" or "nothing waits"', async () => {
    // The API's calls fail as they do when nothing listens; the page itself still loads.
    await page.route(
      (u) => u.pathname === '/executions' || u.pathname === '/approvals',
      (r) => r.abort('connectionrefused'),
    );
    await page.goto(`${server.url}/`);
    const alert = page.locator('[role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`the orchestr8 server at ${server.url} does not answer`);
    expect(await page.locator('text=No executions match.').count()).toBe(0);
    await page.click('nav a:has-text("Approvals")');
    await page.locator('[role="alert"]:has-text("does not answer")').waitFor();
    expect(await page.locator('text=Nothing waits for a decision.').count()).toBe(0);
  }, 60_000);
});

/** A workflow with 55 schedule triggers, registered once; resolves when the scheduler lists them all. */
async function manyTriggers(): Promise<{ names: string[]; total: number }> {
  const names = Array.from({ length: 55 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
  const doc = {
    version: '1.0.0',
    metadata: { id: 'console-ops-many' },
    steps: [{ id: 'hi', agent: '@console/echo', input: { hi: 1 } }],
    triggers: names.map((name) => ({ name, schedule: { cron: '0 0 1 1 *', timezone: 'UTC' } })),
  };
  expect(
    (await api('/workflows/console-ops-many', { method: 'PUT', body: JSON.stringify(doc) })).status,
  ).toBeOneOf([200, 201]); // 200: registered by an earlier test, the same document
  // The scheduler takes up a new version's triggers on its own turn.
  const listed = async () => (await api<{ items: { workflowId: string }[] }>('/triggers')).body.items;
  await expect
    .poll(async () => (await listed()).filter((t) => t.workflowId === 'console-ops-many').length, {
      timeout: 20_000,
    })
    .toBe(55);
  const total = (await listed()).length;
  return { names, total };
}

describe('schedules', () => {
  it('labels the catch-up mark "Handled up to" and links the last execution the trigger started', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'console-ops-scheduled' },
      steps: [{ id: 'hi', agent: '@console/echo', input: { hi: 1 } }],
      triggers: [{ name: 'hourly', schedule: { cron: '0 * * * *', timezone: 'UTC' } }],
    };
    expect(
      (await api('/workflows/console-ops-scheduled', { method: 'PUT', body: JSON.stringify(doc) })).status,
    ).toBe(201);
    await page.goto(`${server.url}/console/schedules`);
    const table = page.locator('table[aria-label="Triggers"]');
    const row = table.locator('tr:has-text("console-ops-scheduled")');
    await row.waitFor({ timeout: 20_000 });
    const headers = await table.locator('th').allTextContents();
    expect(headers).toContain('Handled up to');
    expect(headers).toContain('Last execution');
    expect(headers).not.toContain('Last fire');
    expect(await table.locator('th span[title]').getAttribute('title')).toContain(
      'Trigger now does not move it',
    );
    await row.locator('text=none yet').waitFor();
    await row.locator('button:has-text("Trigger now")').click();
    const link = row.locator('[data-testid="last-started"] a').first();
    await link.waitFor({ timeout: 20_000 });
    const items = (
      await api<{ items: { executionId: string }[] }>('/executions?workflowId=console-ops-scheduled')
    ).body.items;
    expect(items).toHaveLength(1);
    expect(await link.textContent()).toBe(items[0]!.executionId.slice(0, 8));
    await link.click();
    await page.waitForURL(new RegExp(`/console/executions/${items[0]!.executionId}$`));
  }, 60_000);

  it('shows 50 triggers at a time, with a filter, and looks up the last execution of those shown only', async () => {
    const { names, total } = await manyTriggers();
    // Every lookup of a trigger's last execution the page makes, by trigger.
    const lookedUp = new Set<string>();
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith('/executions') && url.searchParams.has('trigger'))
        lookedUp.add(`${url.searchParams.get('workflowId')}/${url.searchParams.get('trigger')}`);
    });
    await page.goto(`${server.url}/console/schedules`);
    const table = page.locator('table[aria-label="Triggers"]');
    const range = page.locator('[data-testid="trigger-range"]');
    await expect.poll(() => range.textContent(), { timeout: 20_000 }).toBe(`triggers 1–50 of ${total}`);
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBe(50);
    // Once every row shown has its answer, the lookups made are exactly those rows'.
    await expect
      .poll(
        () => table.locator('tbody tr:has-text("none yet"), tbody tr [data-testid="last-started"]').count(),
        {
          timeout: 20_000,
        },
      )
      .toBe(50);
    const shown = async () =>
      new Set(
        (await rows.evaluateAll((trs) =>
          trs.map((tr) => `${tr.children[0]!.textContent}/${tr.children[1]!.textContent}`),
        )) as string[],
      );
    expect(lookedUp).toEqual(await shown());

    // By keyboard: Next goes disabled on the last page, and the focus moves to Previous.
    await page.focus('button:has-text("Next")');
    await page.keyboard.press('Enter');
    await expect.poll(() => range.textContent()).toBe(`triggers 51–${total} of ${total}`);
    expect(await rows.count()).toBe(total - 50);
    expect(await page.locator('button:has-text("Next")').isDisabled()).toBe(true);
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Previous');

    await page.fill('input[aria-label="Filter triggers"]', 't0');
    await expect.poll(() => range.textContent()).toBe(`triggers 1–9 of 9 matching (${total} in all)`);
    expect([...(await shown())].sort()).toEqual(names.slice(0, 9).map((n) => `console-ops-many/${n}`));
    await page.fill('input[aria-label="Filter triggers"]', 'no such trigger');
    await page.locator('text=No trigger matches the filter.').waitFor();
    expect(await range.textContent()).toBe(`no trigger of ${total}`);
  }, 60_000);

  it('shows an answer slower than its poll (the next poll waits for it); acting on a trigger looks again for its row only', async () => {
    // The page's clock is held: its polls come only when the test moves the time on.
    await manyTriggers();
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 1_000);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let listCalls = 0;
    await page.route('**/triggers', async (route) => {
      listCalls++;
      if (listCalls === 1) await held;
      await route.continue();
    });
    const lookups = new Map<string, number>();
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (!url.pathname.endsWith('/executions') || !url.searchParams.has('trigger')) return;
      const key = `${url.searchParams.get('workflowId')}/${url.searchParams.get('trigger')}`;
      lookups.set(key, (lookups.get(key) ?? 0) + 1);
    });
    await page.goto(`${server.url}/console/schedules`);
    await expect.poll(() => listCalls).toBe(1);
    // Two polls' worth of time while the first answer is out: no request is made over it.
    await page.clock.runFor(12_000);
    release();
    const range = page.locator('[data-testid="trigger-range"]');
    await expect.poll(() => range.textContent(), { timeout: 20_000 }).toMatch(/^triggers 1–50 of \d+$/);
    expect(listCalls).toBe(1);

    const table = page.locator('table[aria-label="Triggers"]');
    const answered = () =>
      table.locator('tbody tr:has-text("none yet"), tbody tr [data-testid="last-started"]').count();
    await expect.poll(answered, { timeout: 20_000 }).toBe(50);
    expect(new Set(lookups.values())).toEqual(new Set([1]));

    const row = table.locator('tbody tr:has-text("t01")');
    await row.locator('button:has-text("Pause")').click();
    await row.locator('button:has-text("Resume")').waitFor({ timeout: 20_000 });
    await expect.poll(() => lookups.get('console-ops-many/t01')).toBe(2);
    expect([...lookups].filter(([k, n]) => k !== 'console-ops-many/t01' && n !== 1)).toEqual([]);

    // Rows shown after an action look once, not twice.
    lookups.clear();
    await page.click('button:has-text("Next")');
    await expect.poll(() => range.textContent()).toMatch(/^triggers 51–/);
    const shownNow = await table.locator('tbody tr').count();
    await expect.poll(answered, { timeout: 20_000 }).toBe(shownNow);
    expect([...lookups.values()]).toEqual(Array.from({ length: shownNow }, () => 1));
    await api('/triggers/console-ops-many/t01/resume', { method: 'POST', body: '{}' });
  }, 60_000);

  it('does not poll from a tab in the background, and refreshes when the tab is shown again', async () => {
    await manyTriggers();
    await page.clock.install();
    // Time stands still in the page but for runFor: no poll comes on its own.
    await page.clock.pauseAt(Date.now() + 1_000);
    let listCalls = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/triggers') listCalls++;
    });
    await page.goto(`${server.url}/console/schedules`);
    // Shown: the first answer is in, and the next poll is due 5 s after it.
    await page.locator('[data-testid="trigger-range"]').waitFor({ timeout: 20_000 });
    expect(listCalls).toBe(1);
    // A page script (a string: this file is not compiled with the DOM's types).
    const setHidden = (hidden: boolean) =>
      page.evaluate(
        `Object.defineProperty(document, 'hidden', { value: ${hidden}, configurable: true });` +
          `document.dispatchEvent(new Event('visibilitychange'));`,
      );
    await setHidden(true);
    await page.clock.runFor(30_000);
    expect(listCalls).toBe(1);
    await setHidden(false);
    await expect.poll(() => listCalls).toBe(2);
  }, 60_000);

  it('goes on after a request that never answers: it fails after 30 s, is said, and the next poll shows the list', async () => {
    await manyTriggers();
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 1_000);
    let listCalls = 0;
    await page.route('**/triggers', async (route) => {
      listCalls++;
      // The second request is lost: no answer, no error, the connection left open.
      if (listCalls === 2) return new Promise<void>(() => {});
      await route.continue();
    });
    await page.goto(`${server.url}/console/schedules`);
    const range = page.locator('[data-testid="trigger-range"]');
    await range.waitFor({ timeout: 20_000 });
    await page.clock.runFor(5_500);
    await expect.poll(() => listCalls).toBe(2);
    await page.clock.runFor(31_000);
    await page.locator('text=did not answer within 30 s').waitFor({ timeout: 20_000 });
    await page.clock.runFor(5_500);
    await expect.poll(() => listCalls).toBe(3);
    await page.locator('text=did not answer within 30 s').waitFor({ state: 'detached', timeout: 20_000 });
    expect(await range.textContent()).toMatch(/^triggers 1–50 of \d+$/);
  }, 60_000);
});

describe('workflows', () => {
  it("offers the workflow's own versions without asking for every workflow", async () => {
    for (const version of ['1.0.0', '1.1.0']) {
      const doc = {
        version,
        metadata: { id: 'console-ops-versions' },
        steps: [{ id: 'hi', agent: '@console/echo', input: { version } }],
      };
      expect(
        (await api('/workflows/console-ops-versions', { method: 'PUT', body: JSON.stringify(doc) })).status,
      ).toBe(201);
    }
    const paths: string[] = [];
    page.on('request', (r) => paths.push(new URL(r.url()).pathname));
    await page.goto(`${server.url}/console/workflows/console-ops-versions`);
    const picker = page.locator('label:has-text("Version") select');
    await expect
      .poll(() => picker.locator('option').allTextContents(), { timeout: 20_000 })
      .toEqual(['1.0.0', '1.1.0']);
    expect(paths).toContain('/workflows/console-ops-versions/versions');
    expect(paths).not.toContain('/workflows');
  }, 60_000);
});

describe('run form', () => {
  it('clicked again after its answer was lost (30 s, said on the page) gets the execution the first click started, not a second', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'console-ops-once' },
      inputs: { type: 'object', properties: { name: { type: 'string' } } },
      steps: [{ id: 'hi', agent: '@console/echo', input: { name: '${inputs.name}' } }],
    };
    expect(
      (await api('/workflows/console-ops-once', { method: 'PUT', body: JSON.stringify(doc) })).status,
    ).toBe(201);
    await page.clock.install();
    let posts = 0;
    let reachedServer = false;
    await page.route('**/workflows/execute', async (route) => {
      posts++;
      if (posts > 1) return route.continue();
      // The first request reaches the server, which starts the execution; its answer is lost.
      await route.fetch();
      reachedServer = true;
      return new Promise<void>(() => {});
    });
    await page.goto(`${server.url}/console/workflows/console-ops-once`);
    const form = page.locator('form[aria-label="Run form"]');
    await form.locator('#input-name').fill('ada');
    await form.locator('button[type="submit"]').click();
    await expect.poll(() => reachedServer, { timeout: 20_000 }).toBe(true);
    await page.clock.runFor(31_000);
    await page.locator('text=did not answer within 30 s').waitFor({ timeout: 20_000 });
    await page.locator('text=may have been done all the same').waitFor();
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(/\/console\/executions\/[^/]+$/, { timeout: 20_000 });
    const list = await api<{ items: { executionId: string }[] }>('/executions?workflowId=console-ops-once');
    expect(posts).toBe(2);
    expect(list.body.items.map((i) => i.executionId)).toEqual([page.url().split('/').pop()]);
  }, 60_000);
});

describe('executions list', () => {
  it("filtered by workflow, follows only that workflow's events and still shows its new executions live", async () => {
    const urls: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/events') urls.push(r.url());
    });
    await page.goto(`${server.url}/console/executions?workflow=console-ops-live`);
    await expect.poll(() => urls.length, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(urls.map((u) => new URL(u).search)).toEqual(urls.map(() => '?workflowId=console-ops-live'));
    const id = await execute({
      version: '1.0.0',
      metadata: { id: 'console-ops-live' },
      steps: [{ id: 'hi', agent: '@console/echo', input: { hi: 1 } }],
    });
    await page
      .locator(`table[aria-label="Executions"] a:has-text("${id.slice(0, 8)}")`)
      .waitFor({ timeout: 20_000 });
  }, 60_000);
});

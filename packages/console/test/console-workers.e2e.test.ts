/**
 * The Workers page against `orchestr8 serve --worker` on a real PostgreSQL (started by the
 * test): the live worker, its heartbeat, and the step it holds with its lease counting down.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type Served, serve } from '../../cli/test/fixtures/harness.js';
import { type PgServer, startPostgres } from '../../store-postgres/test/pg-server.js';
import { CHROMIUM, CHROMIUM_ARGS } from './fixtures/browser.js';

const here = dirname(fileURLToPath(import.meta.url));
const AGENTS = join(here, 'fixtures', 'agents.mjs');
const dir = mkdtempSync(join(tmpdir(), 'o8-console-workers-'));
let pg: PgServer;
let server: Served;
let browser: Browser;

beforeAll(async () => {
  assertBuilt();
  pg = await startPostgres();
  server = await serve(['--port', '0', '--store', pg.freshSchemaUrl(), '--worker', '--agents', AGENTS], {
    cwd: dir,
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Workers page on PostgreSQL', () => {
  it('shows the live worker, its heartbeat and the step it holds with the lease counting down', async () => {
    const latch = join(dir, 'latch');
    const res = await fetch(`${server.url}/workflows/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        workflow: {
          version: '1.0.0',
          metadata: { id: 'console-workers' },
          steps: [{ id: 'hold', agent: '@console/latch', input: { file: latch } }],
        },
      }),
    });
    const { executionId } = (await res.json()) as { executionId: string };
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/console/workers`);
      const lease = page.locator(`[data-lease="${executionId}/hold"]`);
      await lease.waitFor({ timeout: 30_000 });
      expect(await page.locator('table[aria-label="Workers"] tbody tr').count()).toBe(1);
      expect(await page.textContent('table[aria-label="Workers"] tbody tr')).toMatch(/ago/);
      // Counting down: the remaining time shown goes down between two looks.
      const remaining = async () => Number(await lease.getAttribute('data-remaining-ms'));
      const first = await remaining();
      expect(first).toBeGreaterThan(0);
      await expect.poll(remaining, { timeout: 5_000 }).toBeLessThan(first);
      writeFileSync(latch, 'go');
      await lease.waitFor({ state: 'detached', timeout: 30_000 });
    } finally {
      await page.close();
    }
  }, 90_000);
});

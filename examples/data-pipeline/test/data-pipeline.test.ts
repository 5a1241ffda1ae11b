/**
 * The example as its README runs it (`pnpm start`: fixture server + the real CLI), its
 * declarative tests, and the workflow on the test engine with the API mocked by msw.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestEngine, expectResult, expectStep } from '@orchestr8/testing';
import { HttpResponse, http, withHttpMocks } from '@orchestr8/testing/http';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../src/agents.js';
import { DATA } from '../src/fixture-server.js';

const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
const WORKFLOW = join(EXAMPLE, 'workflows/data-pipeline.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'o8-data-pipeline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build)`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: EXAMPLE, env: { ...process.env, NO_COLOR: '1' } },
      (e, stdout, stderr) => resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('data-pipeline example', () => {
  it('pnpm start: fetches from the fixture, survives the failing source, writes a partial report', async () => {
    const report = join(tmp, 'report.md');
    // `pnpm start` is `tsx src/start.ts`; --json and an in-memory store go on to `orchestr8 run`.
    const r = await node([
      '--import',
      'tsx',
      'src/start.ts',
      '--report',
      report,
      '--json',
      '--store',
      'memory',
    ]);
    expect(r.stderr).toMatch(/fixture data API on http:\/\/127\.0\.0\.1:\d+ \(failing: reviews\)/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.outputs).toMatchObject({
      report,
      partial: true,
      missing: ['reviews'],
      summary: {
        users: 4,
        countries: 3,
        orders: 5,
        revenue: 572.74,
        averageOrder: 114.55,
        reviews: 0,
        averageRating: null,
      },
    });
    expect(result.steps['fetch-reviews']).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: { code: 'HTTP_5XX' },
    });
    const markdown = readFileSync(report, 'utf8');
    expect(markdown).toContain('# Weekly sales report');
    expect(markdown).toContain('**Partial report:** 1 of 3 sources could not be read (reviews)');
    expect(markdown).toContain('| revenue | 572.74 |');
  });

  it('passes its declarative tests', async () => {
    const r = await node([BIN, 'test']);
    expect(r.stdout).toMatch(/tests 2 passed, 2 total/);
    expect(r.code).toBe(0);
  });

  describe('on the test engine, with the API mocked by msw', () => {
    const api = 'https://data.example.test';
    const server = withHttpMocks(
      (['users', 'orders', 'reviews'] as const).map((name) =>
        http.get(`${api}/${name}`, () => HttpResponse.json(DATA[name])),
      ),
    );
    afterAll(() => server.close());

    it('writes a complete report when every source answers', async () => {
      const engine = createTestEngine({ agents: [writeReport] });
      const reportPath = join(tmp, 'complete.md');
      const result = await engine.run(WORKFLOW, { inputs: { baseUrl: api, reportPath } });
      expectResult(result)
        .toHaveCompleted()
        .toHaveOutputs({ partial: false, missing: [], summary: { reviews: 3, averageRating: 4 } });
      expectStep(result, 'fetch-reviews').toHaveCompleted().toHaveAttempts(1);
      expect(readFileSync(reportPath, 'utf8')).not.toContain('Partial report');
      expect(server.unhandled).toEqual([]);
    });
  });
});

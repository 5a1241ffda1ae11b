/**
 * The example as its README runs it (the CLI binary, in this directory), its declarative
 * tests, and the circuit breaker seen on the test engine: the live source is called twice,
 * then refused without a call, by its own step's last attempt and by the next step.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTestEngine, expectResult, expectStep, mockAgent } from '@orchestr8/testing';
import { describe, expect, it } from 'vitest';
import { liveNews, search } from '../src/agents.js';

const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
const WORKFLOW = fileURLToPath(new URL('../workflows/research.yaml', import.meta.url));

function orchestr8(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build)`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: EXAMPLE, env: { ...process.env, NO_COLOR: '1' } },
      (e, stdout, stderr) => resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('multi-agent-research example', () => {
  it('runs with the README command and synthesizes a summary offline', async () => {
    // `pnpm start` is `orchestr8 run workflows/research.yaml --store memory`: the in-memory
    // store (a fresh circuit) keeps every run, and this test, independent of earlier runs.
    const r = await orchestr8('run', 'workflows/research.yaml', '--json', '--store', 'memory');
    expect(r.code).toBe(0);
    const { outputs } = JSON.parse(r.stdout);
    expect(outputs).toMatchObject({
      topic: 'durable workflows',
      model: 'mock',
      papers: 'completed',
      newsFrom: 'news-archive',
      trendingError: 'CIRCUIT_OPEN',
    });
    expect(outputs.summary).toContain('durable workflows');
    expect(outputs.keyPoints.length).toBeGreaterThan(0);
  });

  it('passes its declarative tests', async () => {
    const r = await orchestr8('test');
    expect(r.stdout).toMatch(/tests 3 passed, 3 total/);
    expect(r.code).toBe(0);
  });

  it('stops calling the failing source once its circuit is open', async () => {
    // A mock that delegates to the real agent, to count the calls that reach it.
    const counted = mockAgent(liveNews.id, (input, ctx) => liveNews.execute(input, ctx));
    // As in orchestr8.config.ts: the operator lets documents read the LLM key's variable.
    const engine = createTestEngine({
      agents: [search, counted],
      capabilities: { env: ['RESEARCH_LLM_API_KEY'] },
    });
    const result = await engine.run(WORKFLOW);
    expectResult(result).toHaveCompleted();
    expect(counted.calls.map((c) => `${c.stepId}#${c.attempt}`)).toEqual(['search-news#1', 'search-news#2']);
    expectStep(result, 'news-trending').toHaveFailedWith('CIRCUIT_OPEN');
    const journal = await engine.journal(result);
    journal.expect({ type: 'circuit.opened', stepId: 'search-news', count: 1 });
    journal.expect({ type: 'step.fallback', stepId: 'search-news' });
  });
});

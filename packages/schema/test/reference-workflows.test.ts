import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RETRYABLE_CODES } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { loadWorkflowFile, renderValue, type TemplateScope } from '../src/index.js';

const workflowsDir = join(import.meta.dirname, '../../../workflows');
const builtinAgents = ['@orchestr8/hello-world', '@orchestr8/echo', '@orchestr8/sleep', '@orchestr8/fail'];
const scope = (over: Partial<TemplateScope> = {}): TemplateScope => ({
  steps: {},
  inputs: {},
  variables: {},
  env: {},
  ...over,
});

describe('reference workflows', () => {
  const files = readdirSync(workflowsDir).filter((f) => /\.(json|ya?ml)$/.test(f));

  it('include the four documented workflows', () => {
    expect(files.sort()).toEqual(
      expect.arrayContaining([
        'hello-world.yaml',
        'parallel-data-pipeline.yaml',
        'research-flow.yaml',
        'vertical-slice.json',
      ]),
    );
  });

  for (const file of files) {
    it(`${file} validates with the built-in agents`, async () => {
      const r = await loadWorkflowFile(join(workflowsDir, file), { knownAgents: builtinAgents });
      expect(r.diagnostics).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.workflow).toBeDefined();
    });

    it(`${file} points editors at the published schema`, () => {
      const text = readFileSync(join(workflowsDir, file), 'utf8');
      if (file.endsWith('.json')) expect(JSON.parse(text).$schema).toBe('../schema/workflow.schema.json');
      else expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/workflow.schema.json');
    });
  }
});

describe('the vertical slice', () => {
  it('compiles to what it says', async () => {
    const r = await loadWorkflowFile(join(workflowsDir, 'vertical-slice.json'));
    const wf = r.workflow!;
    expect(wf.id).toBe('vs-test-workflow');
    expect(wf.version).toBe('1.0.0');
    expect(wf.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(wf.steps.map((s) => s.id)).toEqual(['step1', 'step2']);
    const [step1, step2] = wf.steps;
    expect(step1!.agentId).toBe('@orchestr8/hello-world');
    expect(step1!.input).toEqual({ kind: 'static', value: { message: 'Hello from step 1' } });
    expect(step1!.dependents).toEqual(['step2']);
    expect(step2!.dependencies).toEqual(['step1']);
    expect(step2!.name).toBe('Echo Step');
    expect(step2!.input).toMatchObject({
      kind: 'object',
      entries: [
        [
          'message',
          {
            kind: 'ref',
            ref: { root: 'steps', stepId: 'step1', path: ['output', 'result'], hasDefault: false },
          },
        ],
      ],
    });
    for (const s of wf.steps) {
      expect(s.onError).toBe('fail');
      expect(s.fallbackOnly).toBe(false);
      expect(s.policies).toEqual({
        retry: {
          maxAttempts: 2,
          baseDelayMs: 100,
          maxDelayMs: 30_000,
          multiplier: 2,
          jitter: 'full',
          retryOn: DEFAULT_RETRYABLE_CODES,
        },
        circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 60_000 },
        composition: ['retry', 'circuitBreaker', 'timeout'],
      });
      expect(s.policies.timeoutMs).toBeUndefined();
    }
    expect(wf.maxConcurrentSteps).toBe(10);
    expect(wf.gracePeriodMs).toBe(5000);
    expect(wf.globalTimeoutMs).toBeUndefined();
    expect(wf.topologicalOrder).toEqual(['step1', 'step2']);
    const input = renderValue(
      step2!.input,
      scope({ steps: { step1: { output: { result: 'Hello, Hello from step 1' } } } }),
    );
    expect(input).toEqual({ message: 'Hello, Hello from step 1' });
  });

  it('keeps the document exactly as written', async () => {
    const text = readFileSync(join(workflowsDir, 'vertical-slice.json'), 'utf8');
    const r = await loadWorkflowFile(join(workflowsDir, 'vertical-slice.json'));
    expect(r.document).toEqual(JSON.parse(text));
  });
});

describe('the other reference workflows', () => {
  it('hello-world resolves step policies from the workflow retry and perStep timeout', async () => {
    const wf = (await loadWorkflowFile(join(workflowsDir, 'hello-world.yaml'))).workflow!;
    expect(wf.steps.map((s) => [s.id, s.dependencies])).toEqual([
      ['greet', []],
      ['personalize', ['greet']],
      ['deliver', ['personalize']],
    ]);
    expect(wf.steps[0]!.policies).toMatchObject({
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 1000 },
      timeoutMs: 10_000,
    });
    expect(wf.steps[0]!.policies.circuitBreaker).toBeUndefined();
    expect(wf.steps[2]!.capture).toEqual(['message']);
    expect(wf.outputs?.kind).toBe('object');
  });

  it('research-flow compiles conditions, a fallback and circuit breakers', async () => {
    const wf = (await loadWorkflowFile(join(workflowsDir, 'research-flow.yaml'))).workflow!;
    const deep = wf.stepById.get('deep-dive')!;
    expect(
      deep.condition?.if?.evaluate(
        scope({ steps: { search: { output: { count: 2 } } }, inputs: { mode: 'deep' } }),
      ),
    ).toBe(true);
    expect(
      deep.condition?.if?.evaluate(
        scope({ steps: { search: { output: { count: 2 } } }, inputs: { mode: 'quick' } }),
      ),
    ).toBe(false);
    const live = wf.stepById.get('live-source')!;
    expect(live).toMatchObject({ onError: 'fallback', fallbackStepId: 'cached-source', fallbackOnly: false });
    expect(live.policies.circuitBreaker).toEqual({ failureThreshold: 2, resetTimeoutMs: 30_000 });
    expect(live.policies.retry).toMatchObject({
      maxAttempts: 2,
      baseDelayMs: 10,
      maxDelayMs: 200,
      jitter: 'none',
    });
    expect(wf.stepById.get('cached-source')!.fallbackOnly).toBe(true);
    expect(wf.stepById.get('search')!.policies.circuitBreaker).toEqual({
      failureThreshold: 3,
      resetTimeoutMs: 30_000,
    });
  });

  it('parallel-data-pipeline compiles its forEach and its onError continue branch', async () => {
    const wf = (await loadWorkflowFile(join(workflowsDir, 'parallel-data-pipeline.yaml'))).workflow!;
    const transform = wf.stepById.get('transform')!;
    expect(transform.forEach?.concurrency).toBe(2);
    expect(transform.forEach?.items).toMatchObject({
      kind: 'ref',
      ref: { root: 'inputs', path: ['records'] },
    });
    expect(renderValue(transform.input, scope({ item: 'beta', index: 1 }))).toEqual({
      record: 'beta',
      position: 1,
      label: 'record 1: beta',
    });
    expect(wf.stepById.get('fetch-audit')!.onError).toBe('continue');
    expect(wf.maxConcurrentSteps).toBe(4);
    expect(wf.globalTimeoutMs).toBe(60_000);
  });
});

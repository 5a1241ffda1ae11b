// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { hasCode } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import {
  compileWorkflow,
  type Diagnostic,
  formatDiagnostic,
  loadWorkflow,
  parseDuration,
  validateWorkflowObject,
  type WorkflowDocument,
} from '../src/index.js';

type StepIn = Record<string, unknown> & { id: string };
const doc = (steps: StepIn[], extra: Record<string, unknown> = {}) => ({
  version: '1.0.0',
  metadata: { id: 'semantics' },
  steps: steps.map((s) => ({ agent: '@orchestr8/echo', ...s })),
  ...extra,
});
const codes = (r: { diagnostics: Diagnostic[] }) => r.diagnostics.map((d) => `${d.code} ${d.pointer}`);

describe('the step graph', () => {
  it('reports each cycle once, as a -> b -> ... -> a', () => {
    const r = validateWorkflowObject(
      doc([
        { id: 'a', dependencies: ['b'] },
        { id: 'b', dependencies: ['c'] },
        { id: 'c', dependencies: ['a'] },
        { id: 'd', dependencies: ['c'] }, // downstream of the cycle, not in it
        { id: 'self', dependencies: ['self'] },
      ]),
    );
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      'dependency cycle: a -> b -> c -> a',
      'dependency cycle: self -> self',
    ]);
    expect(r.diagnostics.map((d) => d.pointer)).toEqual([
      '/steps/0/dependencies/0',
      '/steps/4/dependencies/0',
    ]);
  });

  it('accepts reading any transitive upstream step and refuses siblings with a hint', () => {
    const r = validateWorkflowObject(
      doc([
        { id: 'a' },
        { id: 'b', dependencies: ['a'] },
        { id: 'c', dependencies: ['b'], input: { fromA: '${steps.a.output}', fromB: '${steps.b.status}' } },
        { id: 'sibling', dependencies: ['a'], input: '${steps.b.output ?? null}' },
      ]),
    );
    expect(r.diagnostics).toMatchObject([
      {
        code: 'E_NOT_UPSTREAM',
        pointer: '/steps/3/input',
        message: 'step "sibling" reads steps.b, which is not upstream of it',
        hint: 'add "b" to dependencies',
      },
    ]);
  });

  it('checks conditions, forEach items and idempotency keys like inputs', () => {
    const r = validateWorkflowObject(
      doc([
        { id: 'a' },
        {
          id: 'b',
          condition: { if: 'steps.a.output.n > 1', unless: 'exists(steps.zz.output)' },
          forEach: { items: '${steps.a.output.list}' },
          policies: { idempotencyKey: 'key-${steps.a.output.id}-${item.id}' },
          input: '${item}',
        },
      ]),
    );
    expect(codes(r)).toEqual([
      'E_NOT_UPSTREAM /steps/1/condition/if',
      'E_UNKNOWN_STEP /steps/1/condition/unless',
      'E_NOT_UPSTREAM /steps/1/forEach/items',
      'E_NOT_UPSTREAM /steps/1/policies/idempotencyKey',
    ]);
  });

  it('handles a 1,000-step chain where the last step reads the first', () => {
    const steps: StepIn[] = [{ id: 's0' }];
    for (let i = 1; i < 1000; i++) steps.push({ id: `s${i}`, dependencies: [`s${i - 1}`] });
    steps[999]!.input = '${steps.s0.output}';
    const r = validateWorkflowObject(doc(steps));
    expect(r.diagnostics).toEqual([]);
    expect(r.workflow!.topologicalOrder[999]).toBe('s999');
  });

  it('keeps each dependency of a 20,000-step join once, in the order written', () => {
    const steps: StepIn[] = [];
    for (let i = 0; i < 20_000; i++) steps.push({ id: `s${i}` });
    const ids = steps.map((s) => s.id);
    steps.push({
      id: 'join',
      dependencies: [...ids, 's7', 's0', 'ghost', 'ghost'],
      input: { first: '${steps.s0.output}', last: '${steps.s19999.output}' },
    });
    const r = validateWorkflowObject(doc(steps));
    expect(codes(r)).toEqual(['E_UNKNOWN_STEP /steps/20000/dependencies/20002']);
    steps[20_000]!.dependencies = [...ids, 's7', 's0'];
    const ok = validateWorkflowObject(doc(steps));
    expect(ok.diagnostics).toEqual([]);
    expect(ok.workflow!.stepById.get('join')!.dependencies).toEqual(ids);
    expect(ok.workflow!.stepById.get('s7')!.dependents).toEqual(['join']);
  });

  it('lets workflow outputs read any step but not forEach items', () => {
    const r = validateWorkflowObject(
      doc([{ id: 'a' }, { id: 'b' }], {
        outputs: {
          all: ['${steps.a.output}', '${steps.b.output}'],
          bad: '${item}',
          gone: '${steps.c.output}',
        },
      }),
    );
    expect(codes(r)).toEqual(['E_ITEM_OUTSIDE_FOREACH /outputs/bad', 'E_UNKNOWN_STEP /outputs/gone']);
  });
});

describe('fallbacks', () => {
  it('marks the fallback step fallback-only', () => {
    const r = validateWorkflowObject(
      doc([
        { id: 'src' },
        { id: 'live', dependencies: ['src'], onError: 'fallback', fallbackStepId: 'cache' },
        { id: 'cache', dependencies: ['src'], input: '${steps.src.output}' },
      ]),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.workflow!.stepById.get('cache')!.fallbackOnly).toBe(true);
    expect(r.workflow!.stepById.get('live')!.fallbackStepId).toBe('cache');
  });

  it('refuses fallbacks that could never run', () => {
    const r = validateWorkflowObject(
      doc([
        { id: 'x' },
        { id: 'a', onError: 'fallback', fallbackStepId: 'a' },
        { id: 'b', fallbackStepId: 'x' },
        { id: 'c', onError: 'fallback', fallbackStepId: 'f' },
        { id: 'd', onError: 'fallback', fallbackStepId: 'f' },
        { id: 'f', dependencies: ['x'] },
      ]),
    );
    expect(r.diagnostics.map((d) => [d.code, d.pointer, d.message])).toEqual([
      ['E_FALLBACK_INVALID', '/steps/1/fallbackStepId', 'step "a" cannot be its own fallback'],
      [
        'E_FALLBACK_INVALID',
        '/steps/2/fallbackStepId',
        'step "b" names a fallbackStepId but its onError is "fail"',
      ],
      [
        'E_FALLBACK_INVALID',
        '/steps/5/dependencies/0',
        'fallback step "f" depends on "x", which is not upstream of "c" (the step it stands in for)',
      ],
      ['E_FALLBACK_INVALID', '/steps/4/fallbackStepId', 'step "f" is already the fallback of "c"'],
    ]);
  });
});

describe('context', () => {
  it('allows only allowlisted environment variables, declared secrets and defined variables', () => {
    const r = validateWorkflowObject(
      doc(
        [
          {
            id: 'a',
            input: {
              env: '${env.OK}',
              secret: '${secrets.token}',
              v: '${variables.a.b}',
              d: '${variables.none ?? 1}',
              bad: '${variables.x}',
            },
          },
        ],
        {
          context: {
            environment: ['OK'],
            secretRefs: { token: { env: 'TOKEN' } },
            variables: { a: { b: 1 } },
          },
        },
      ),
    );
    expect(codes(r)).toEqual(['E_UNKNOWN_VARIABLE /steps/0/input/bad']);
    const ok = validateWorkflowObject(
      doc([{ id: 'a', input: { env: '${env.OK}', secret: '${secrets.token}' } }], {
        context: { environment: ['OK'], secretRefs: { token: { env: 'TOKEN' } } },
      }),
    );
    expect(ok.workflow!.secretRefs).toEqual({ token: 'TOKEN' });
    expect(ok.workflow!.environmentAllowlist).toEqual(['OK']);
  });

  it('checks forEach sources that are known not to be arrays', () => {
    const r = validateWorkflowObject(
      doc(
        [
          { id: 'a', forEach: { items: '${inputs.list}' }, input: '${item}' },
          { id: 'b', forEach: { items: '${inputs.name}' } },
          { id: 'c', forEach: { items: 'not a template' } },
          { id: 'd', forEach: { items: '${variables.one}' } },
          { id: 'e', forEach: { items: '${env.LIST}' } },
          { id: 'f', forEach: { items: ['${inputs.name}', 2] }, input: { i: '${index}' } },
        ],
        {
          inputs: { type: 'object', properties: { list: { type: 'array' }, name: { type: 'string' } } },
          context: { variables: { one: 1 }, environment: ['LIST'] },
        },
      ),
    );
    expect(codes(r)).toEqual([
      'E_FOREACH_NOT_ARRAY /steps/1/forEach/items',
      'E_FOREACH_NOT_ARRAY /steps/2/forEach/items',
      'E_FOREACH_NOT_ARRAY /steps/3/forEach/items',
      'E_FOREACH_NOT_ARRAY /steps/4/forEach/items',
    ]);
  });

  it('names unknown agents when the known agents are given', () => {
    const r = validateWorkflowObject(
      doc([
        { id: 'a', agent: '@orchestr8/eco' },
        { id: 'b', agent: { id: '@x/y' } },
      ]),
      {
        knownAgents: ['@orchestr8/echo', '@orchestr8/sleep'],
      },
    );
    expect(r.diagnostics).toMatchObject([
      {
        code: 'E_UNKNOWN_AGENT',
        pointer: '/steps/0/agent',
        hint: 'did you mean "@orchestr8/echo"? known agents: @orchestr8/echo, @orchestr8/sleep',
      },
      { code: 'E_UNKNOWN_AGENT', pointer: '/steps/1/agent/id' },
    ]);
    expect(validateWorkflowObject(doc([{ id: 'a', agent: '@any/agent' }])).ok).toBe(true);
  });

  it('check only the scopes the known agents are complete for, and list the ids left unchecked', () => {
    const r = validateWorkflowObject(
      doc([
        { id: 'a', agent: '@orchestr8/eco' },
        { id: 'b', agent: '@orchestra8/echo' },
        { id: 'c', agent: 'echo' },
        { id: 'd', agent: '@acme/thing' },
        { id: 'e', agent: { id: '@acme/other' } },
        { id: 'f', agent: 'local-tool' },
        { id: 'g', agent: '@orchestr8/echo' },
      ]),
      { knownAgents: ['@orchestr8/echo', '@orchestr8/sleep'], knownAgentScopes: ['@orchestr8'] },
    );
    expect(r.diagnostics.map((d) => [d.pointer, d.hint?.split('?')[0]])).toEqual([
      ['/steps/0/agent', 'did you mean "@orchestr8/echo"'],
      ['/steps/1/agent', 'did you mean "@orchestr8/echo"'],
      ['/steps/2/agent', 'did you mean "@orchestr8/echo"'],
    ]);
    expect(r.uncheckedAgents).toEqual(['@acme/other', '@acme/thing', 'local-tool']);
    const valid = validateWorkflowObject(doc([{ id: 'd', agent: '@acme/thing' }]), {
      knownAgents: ['@orchestr8/echo'],
      knownAgentScopes: ['@orchestr8'],
    });
    expect(valid).toMatchObject({ ok: true, uncheckedAgents: ['@acme/thing'] });
  });
});

describe('policies', () => {
  it('merge step policies over the workflow field by field, and durations in either form', () => {
    const wf = validateWorkflowObject(
      doc(
        [
          { id: 'plain' },
          {
            id: 'custom',
            policies: {
              timeout: '2s',
              retry: { maxAttempts: 1, retryOn: ['TIMEOUT'] },
              circuitBreaker: { resetTimeoutMs: '1m' },
            },
          },
        ],
        {
          policies: {
            timeout: { perStep: 500, global: '1h' },
            resilience: {
              retry: { baseDelayMs: '250ms', multiplier: 3 },
              composition: 'timeout(retry(circuitBreaker(attempt)))',
            },
            concurrency: { maxConcurrentSteps: 2 },
            cancellation: { gracePeriodMs: '1s' },
          },
        },
      ),
    ).workflow!;
    const [plain, custom] = wf.steps;
    expect(plain!.policies).toEqual({
      retry: {
        maxAttempts: 3,
        baseDelayMs: 250,
        maxDelayMs: 30_000,
        multiplier: 3,
        jitter: 'full',
        retryOn: ['TIMEOUT', 'RETRYABLE', 'NETWORK', 'HTTP_5XX', 'HTTP_429'],
      },
      timeoutMs: 500,
      composition: ['timeout', 'retry', 'circuitBreaker'],
    });
    expect(custom!.policies).toEqual({
      retry: {
        maxAttempts: 1,
        baseDelayMs: 250,
        maxDelayMs: 30_000,
        multiplier: 3,
        jitter: 'full',
        retryOn: ['TIMEOUT'],
      },
      timeoutMs: 2000,
      circuitBreaker: { failureThreshold: 5, resetTimeoutMs: 60_000 },
      composition: ['timeout', 'retry', 'circuitBreaker'],
    });
    expect(wf).toMatchObject({ globalTimeoutMs: 3_600_000, maxConcurrentSteps: 2, gracePeriodMs: 1000 });
  });

  it('parse durations in milliseconds, seconds, minutes, hours and days', () => {
    expect([
      parseDuration(250),
      parseDuration('500ms'),
      parseDuration('1.5s'),
      parseDuration('5m'),
      parseDuration('1h'),
      parseDuration('3d'),
      parseDuration('0.5d'),
    ]).toEqual([250, 500, 1500, 300_000, 3_600_000, 259_200_000, 43_200_000]);
    for (const bad of ['5', '5 s', '-1s', '1w', '3D', '3days', ''] as const)
      expect(() => parseDuration(bad)).toThrow(/invalid duration/);
    expect(() => parseDuration(-1)).toThrow(/invalid duration/);
    expect(() => parseDuration(Number.NaN)).toThrow(/invalid duration/);
  });
});

describe('compileWorkflow', () => {
  it('compiles a valid document and hashes it canonically (key order and $schema do not matter)', () => {
    const a = compileWorkflow(doc([{ id: 'a', input: { x: 1, y: 2 } }]) as WorkflowDocument);
    const reordered = {
      $schema: 'x',
      steps: [{ input: { y: 2, x: 1 }, agent: '@orchestr8/echo', id: 'a' }],
      metadata: { id: 'semantics' },
      version: '1.0.0',
    };
    expect(compileWorkflow(reordered as WorkflowDocument).hash).toBe(a.hash);
    expect(compileWorkflow(doc([{ id: 'a', input: { x: 1, y: 3 } }]) as WorkflowDocument).hash).not.toBe(
      a.hash,
    );
  });

  it('throws a VALIDATION error carrying the diagnostics for an invalid document', () => {
    try {
      compileWorkflow(doc([{ id: 'a', dependencies: ['zz'] }]) as WorkflowDocument);
      expect.unreachable();
    } catch (e) {
      expect(hasCode(e, 'VALIDATION')).toBe(true);
      expect((e as { details: { diagnostics: Diagnostic[] } }).details.diagnostics[0]?.code).toBe(
        'E_UNKNOWN_STEP',
      );
    }
  });
});

describe('diagnostics', () => {
  it('format like a compiler, with the hint on its own line', () => {
    expect(
      formatDiagnostic({
        code: 'E_UNKNOWN_STEP',
        severity: 'error',
        message: 'step "b" reads steps.zz, which does not exist',
        pointer: '/steps/1/input/message',
        file: 'workflows/x.yaml',
        line: 12,
        column: 5,
        hint: 'did you mean "z"?',
      }),
    ).toBe(
      'workflows/x.yaml:12:5 error E_UNKNOWN_STEP step "b" reads steps.zz, which does not exist (at /steps/1/input/message)\n  hint: did you mean "z"?',
    );
    expect(
      formatDiagnostic({ code: 'E_SCHEMA', severity: 'error', message: 'must be integer', pointer: '' }),
    ).toBe('error E_SCHEMA must be integer (at /)');
  });

  it('carry no positions for documents validated as objects', () => {
    const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'x' }, steps: [] });
    expect(r.diagnostics).toEqual([
      { code: 'E_SCHEMA', severity: 'error', message: 'must have at least 1 item', pointer: '/steps' },
    ]);
  });

  it('point unknown fields at their key and missing fields at their parent', () => {
    const r = loadWorkflow(
      'version: "1.0.0"\nmetadata:\n  name: no id\nsteps:\n  - id: a\n    agent: "@orchestr8/echo"\n    retries: 3\n',
      {
        filename: 'w.yaml',
      },
    );
    expect(r.diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.message}`)).toEqual([
      'w.yaml:3:3 missing required field "id"',
      'w.yaml:7:5 unknown field "retries"',
    ]);
  });

  it('refuse other major versions of the format, and only those', () => {
    expect(validateWorkflowObject({ ...doc([{ id: 'a' }]), version: '2.1.0' }).diagnostics).toMatchObject([
      { code: 'E_VERSION', pointer: '/version' },
    ]);
    expect(validateWorkflowObject({ ...doc([{ id: 'a' }]), version: '1.9.3' }).ok).toBe(true);
  });
});

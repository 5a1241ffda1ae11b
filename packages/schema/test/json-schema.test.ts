import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULTS, getWorkflowJsonSchema, WORKFLOW_SCHEMA_ID } from '../src/index.js';
import { validateAgainstSchema } from '../src/schema-validator.js';
import { buildWorkflowJsonSchema, WorkflowDocumentSchema } from '../src/zod.js';

const root = join(import.meta.dirname, '../../..');
const committed = JSON.parse(readFileSync(join(root, 'schema/workflow.schema.json'), 'utf8'));

function readDoc(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  return path.endsWith('.json') ? JSON.parse(text) : parse(text);
}

const referenceDocs = readdirSync(join(root, 'workflows'))
  .filter((f) => /\.(json|ya?ml)$/.test(f))
  .map((f) => readDoc(join(root, 'workflows', f)));

describe('the published JSON Schema', () => {
  it('is up to date with the zod model (run `pnpm --filter @orchestr8/schema generate:schema`)', () => {
    expect(committed).toEqual(buildWorkflowJsonSchema());
    expect(getWorkflowJsonSchema()).toEqual(committed);
  });

  it('is the same file in the package, which the validator reads (generate:schema writes both)', () => {
    const packaged = readFileSync(join(root, 'packages/schema/workflow.schema.json'), 'utf8');
    expect(packaged).toBe(readFileSync(join(root, 'schema/workflow.schema.json'), 'utf8'));
  });

  it('is JSON Schema 2020-12 with a stable $id', () => {
    expect(committed.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(committed.$id).toBe(WORKFLOW_SCHEMA_ID);
    expect(WORKFLOW_SCHEMA_ID).toBe('https://orchestr8.dev/schema/workflow/v1.json');
  });

  it('describes every field', () => {
    const undocumented: string[] = [];
    const defs = committed.$defs as Record<string, Record<string, unknown>>;
    const visit = (schema: Record<string, unknown>, at: string) => {
      const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [name, prop] of Object.entries(props ?? {})) {
        const target = typeof prop.$ref === 'string' ? defs[prop.$ref.replace('#/$defs/', '')]! : prop;
        if (!prop.description && !target.description) undocumented.push(`${at}/${name}`);
        visit(target, `${at}/${name}`);
        if (target.items && typeof target.items === 'object')
          visit(target.items as Record<string, unknown>, `${at}/${name}[]`);
        for (const branch of (target.anyOf as Record<string, unknown>[] | undefined) ?? [])
          visit(branch, `${at}/${name}|`);
        if (target.additionalProperties && typeof target.additionalProperties === 'object')
          visit(target.additionalProperties as Record<string, unknown>, `${at}/${name}{}`);
      }
    };
    visit(committed, '');
    expect(undocumented).toEqual([]);
  });

  it('documents the defaults that compileWorkflow applies', () => {
    const defs = committed.$defs;
    expect(defs.RetryPolicy.properties.maxAttempts.default).toBe(DEFAULTS.retry.maxAttempts);
    expect(defs.RetryPolicy.properties.baseDelayMs.default).toBe(100);
    expect(defs.RetryPolicy.properties.maxDelayMs.default).toBe(30_000);
    expect(defs.RetryPolicy.properties.multiplier.default).toBe(2);
    expect(defs.RetryPolicy.properties.jitter.default).toBe('full');
    expect(defs.RetryPolicy.properties.retryOn.default).toEqual([
      'TIMEOUT',
      'RETRYABLE',
      'NETWORK',
      'HTTP_5XX',
      'HTTP_429',
    ]);
    expect(defs.CircuitBreakerPolicy.properties.failureThreshold.default).toBe(5);
    expect(defs.CircuitBreakerPolicy.properties.resetTimeoutMs.default).toBe(60_000);
    const policies = committed.properties.policies.properties;
    expect(policies.concurrency.properties.maxConcurrentSteps.default).toBe(10);
    expect(policies.cancellation.properties.gracePeriodMs.default).toBe(5000);
    expect(policies.resilience.properties.composition.default).toBe(
      'retry(circuitBreaker(timeout(attempt)))',
    );
    expect(policies.resilience.properties.composition.enum).toHaveLength(6);
    expect(defs.Step.properties.onError.default).toBe('fail');
    expect(defs.Step.properties.forEach.properties.concurrency.default).toBe(1);
    expect(policies.timeout.properties.global.default).toBeUndefined();
  });
});

/** Documents valid against the schema, plus schema-level mistakes. */
const corpus: { name: string; doc: unknown; valid: boolean }[] = [
  ...referenceDocs.map((doc, i) => ({ name: `reference ${i}`, doc, valid: true })),
  ...readdirSync(join(import.meta.dirname, 'fixtures/invalid'))
    .filter((f) => !f.endsWith('.txt') && !['alias-bomb.yaml', 'duplicate-key.yaml'].includes(f))
    .map((f) => {
      const doc = readDoc(join(import.meta.dirname, 'fixtures/invalid', f));
      return { name: f, doc, valid: validateAgainstSchema(doc).length === 0 };
    }),
];

const base = {
  version: '1.0.0',
  metadata: { id: 'x' },
  steps: [{ id: 'a', agent: '@orchestr8/echo' }],
};
const variants: [string, unknown, boolean][] = [
  ['minimal', base, true],
  ['duration strings', { ...base, policies: { timeout: { global: '1.5h', perStep: '250ms' } } }, true],
  ['zero timeout', { ...base, policies: { timeout: { perStep: 0 } } }, false],
  ['zero timeout string', { ...base, policies: { timeout: { perStep: '0s' } } }, false],
  ['zero delay', { ...base, policies: { resilience: { retry: { baseDelayMs: 0 } } } }, true],
  ['negative delay', { ...base, policies: { resilience: { retry: { baseDelayMs: -1 } } } }, false],
  ['unknown unit', { ...base, policies: { cancellation: { gracePeriodMs: '5w' } } }, false],
  ['days', { ...base, policies: { cancellation: { gracePeriodMs: '5d' } } }, true],
  ['jitter', { ...base, policies: { resilience: { retry: { jitter: 'half' } } } }, false],
  ['multiplier below 1', { ...base, policies: { resilience: { retry: { multiplier: 0.5 } } } }, false],
  ['version not semver', { ...base, version: '1.0' }, false],
  ['version prerelease', { ...base, version: '1.2.3-beta.1' }, true],
  [
    'agent object',
    { ...base, steps: [{ id: 'a', agent: { id: '@x/y', version: '^1', config: { k: 1 } } }] },
    true,
  ],
  ['agent uppercase', { ...base, steps: [{ id: 'a', agent: '@X/Y' }] }, false],
  ['agent unscoped', { ...base, steps: [{ id: 'a', agent: 'local-agent' }] }, true],
  ['step id with space', { ...base, steps: [{ id: 'a b', agent: '@x/y' }] }, false],
  [
    'forEach literal',
    { ...base, steps: [{ id: 'a', agent: '@x/y', forEach: { items: [1, 2], concurrency: 2 } }] },
    true,
  ],
  [
    'forEach concurrency 0',
    { ...base, steps: [{ id: 'a', agent: '@x/y', forEach: { items: [1], concurrency: 0 } }] },
    false,
  ],
  ['forEach number', { ...base, steps: [{ id: 'a', agent: '@x/y', forEach: { items: 3 } }] }, false],
  ['secretRefs', { ...base, context: { secretRefs: { apiKey: { env: 'API_KEY' } } } }, true],
  ['secretRefs bad name', { ...base, context: { secretRefs: { 'api-key': { env: 'API_KEY' } } } }, false],
  ['environment bad name', { ...base, context: { environment: ['1BAD'] } }, false],
  ['$schema', { $schema: './x.json', ...base }, true],
  ['steps not array', { ...base, steps: {} }, false],
  [
    'input any JSON',
    { ...base, steps: [{ id: 'a', agent: '@x/y', input: [1, 'two', null, { three: true }] }] },
    true,
  ],
  ['huge integer', { ...base, policies: { concurrency: { maxConcurrentSteps: 2 ** 60 } } }, false],
  ['queue', { ...base, steps: [{ id: 'a', agent: '@x/y', queue: 'gpu:large' }] }, true],
  [
    'output capture and schema',
    { ...base, steps: [{ id: 'a', agent: '@x/y', output: { capture: 'a.b', schema: { type: 'object' } } }] },
    true,
  ],
];
for (const [name, doc, valid] of variants) corpus.push({ name, doc, valid });

describe('zod model and JSON Schema', () => {
  it('have a corpus with both valid and invalid documents', () => {
    expect(corpus.filter((c) => c.valid).length).toBeGreaterThan(10);
    expect(corpus.filter((c) => !c.valid).length).toBeGreaterThan(10);
  });

  for (const { name, doc, valid } of corpus) {
    it(`agree on ${name} (${valid ? 'valid' : 'invalid'})`, () => {
      expect(validateAgainstSchema(doc).length === 0, 'ajv').toBe(valid);
      expect(WorkflowDocumentSchema.safeParse(doc).success, 'zod').toBe(valid);
    });
  }

  it('agree on random mutations of the reference workflows', () => {
    const leafPaths = (value: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) => {
      out.push(at);
      if (Array.isArray(value)) for (let i = 0; i < value.length; i++) leafPaths(value[i], [...at, i], out);
      else if (value && typeof value === 'object')
        for (const [k, v] of Object.entries(value)) leafPaths(v, [...at, k], out);
      return out;
    };
    const mutate = (
      doc: unknown,
      path: (string | number)[],
      op: 'set' | 'delete' | 'addKey',
      value: unknown,
    ) => {
      const copy = structuredClone(doc) as Record<string | number, unknown>;
      if (path.length === 0) return op === 'set' ? value : copy;
      let parent = copy as Record<string | number, unknown>;
      for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
      const last = path[path.length - 1]!;
      if (op === 'set') parent[last] = value;
      else if (op === 'delete') {
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
      } else {
        const target = parent[last];
        if (target && typeof target === 'object' && !Array.isArray(target))
          (target as Record<string, unknown>).extra = value;
      }
      return copy;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: referenceDocs.length - 1 }),
        fc.nat(),
        fc.constantFrom('set' as const, 'delete' as const, 'addKey' as const),
        fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom('30s', '0ms', '@a/b', 'x', 1, 0, -1, 1.5, '1.0.0', 'fallback'),
        ),
        (docIndex, pathIndex, op, value) => {
          const doc = referenceDocs[docIndex]!;
          const paths = leafPaths(doc);
          const mutated = mutate(doc, paths[pathIndex % paths.length]!, op, value);
          const ajv = validateAgainstSchema(mutated).length === 0;
          const zod = WorkflowDocumentSchema.safeParse(mutated).success;
          expect({ ajv, zod }).toEqual({ ajv: zod, zod });
        },
      ),
      { numRuns: 1500, seed: 8 },
    );
  });
});

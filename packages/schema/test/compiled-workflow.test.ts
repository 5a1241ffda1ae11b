import { describe, expect, it } from 'vitest';
import { canonicalJson, validateWorkflowObject, type WorkflowDocument } from '../src/index.js';

function compile(steps: unknown[], policies?: unknown) {
  const r = validateWorkflowObject({
    version: '1.0.0',
    metadata: { id: 'w', name: 'w' },
    steps,
    ...(policies ? { policies } : {}),
  });
  expect(r.diagnostics).toEqual([]);
  return r.workflow!;
}

describe('a compiled workflow', () => {
  it('lists dependencies as written without duplicates, and dependents in document order', () => {
    const w = compile([
      { id: 'a', agent: 'x' },
      { id: 'b', agent: 'x', dependencies: ['a'] },
      { id: 'c', agent: 'x', dependencies: ['b', 'a', 'b'] },
      { id: 'd', agent: 'x', dependencies: ['a', 'c'] },
    ]);
    const byId = (id: string) => w.stepById.get(id)!;
    expect(byId('a').dependencies).toEqual([]);
    expect(byId('b').dependencies).toEqual(['a']);
    expect(byId('c').dependencies).toEqual(['b', 'a']);
    expect(byId('a').dependents).toEqual(['b', 'c', 'd']);
    expect(byId('b').dependents).toEqual(['c']);
    expect(byId('c').dependents).toEqual(['d']);
    expect(byId('d').dependents).toEqual([]);
  });

  it('is read-only where steps share a value: no agent config, no dependencies, no policies of their own', () => {
    const w = compile([
      { id: 'a', agent: 'x' },
      { id: 'b', agent: 'x' },
      { id: 'c', agent: { id: 'x', config: { k: 1 } }, dependencies: ['a'], policies: { timeout: '5s' } },
    ]);
    const [a, b, c] = w.steps as [(typeof w.steps)[0], (typeof w.steps)[0], (typeof w.steps)[0]];
    expect(a.agentConfig).toEqual({});
    expect(Object.isFrozen(a.agentConfig)).toBe(true);
    expect(() => {
      (a.agentConfig as Record<string, unknown>).k = 1;
    }).toThrow(TypeError);
    expect(b.agentConfig).toEqual({});
    expect(Object.isFrozen(a.dependencies)).toBe(true);
    expect(() => (a.dependencies as string[]).push('b')).toThrow(TypeError);
    expect(Object.isFrozen(a.policies)).toBe(true);
    expect(a.policies).toEqual(b.policies);
    // A step's own settings are its own.
    expect(c.agentConfig).toEqual({ k: 1 });
    expect(c.policies.timeoutMs).toBe(5000);
    expect(a.policies.timeoutMs).toBeUndefined();
  });

  it('steps without policies of their own follow the workflow policies', () => {
    const w = compile([{ id: 'a', agent: 'x' }], {
      timeout: { perStep: '2s' },
      resilience: { retry: { maxAttempts: 5 } },
    });
    expect(w.steps[0]!.policies.timeoutMs).toBe(2000);
    expect(w.steps[0]!.policies.retry.maxAttempts).toBe(5);
  });

  it('has a hash computed on first read: sha256 of the canonical document, enumerable like the other fields', async () => {
    const w = compile([{ id: 'a', agent: 'x', input: { b: 1, a: 2 } }]);
    const { createHash } = await import('node:crypto');
    const { $schema: _s, ...rest } = w.document as WorkflowDocument & { $schema?: string };
    expect(w.hash).toBe(createHash('sha256').update(canonicalJson(rest)).digest('hex'));
    expect(w.hash).toBe(w.hash);
    expect(Object.keys(w)).toContain('hash');
    expect({ ...w }.hash).toBe(w.hash);
  });
});

import { validateWorkflowObject } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { defineAgent } from '../src/index.js';

const documentAccepts = (agent: string) =>
  validateWorkflowObject({
    version: '1.0.0',
    metadata: { id: 'ids', name: 'ids' },
    steps: [{ id: 's', agent }],
  }).ok;

const defines = (id: string) => {
  try {
    defineAgent({ id, execute: () => 1 });
    return true;
  } catch {
    return false;
  }
};

describe('agent ids', () => {
  it('are refused by defineAgent exactly when a document would refuse them', () => {
    for (const id of [
      '@acme/fetch',
      'fetch',
      '@a.b/c_d-1',
      '@Bench/S0',
      'Fetch',
      '@acme/Fetch',
      '@/x',
      'a b',
      '',
    ]) {
      expect({ id, defines: defines(id) }).toEqual({ id, defines: documentAccepts(id) });
    }
  });

  it('say why an upper-case id is refused', () => {
    expect(() => defineAgent({ id: '@Bench/S0', execute: () => 1 })).toThrow(/lowercase/);
  });
});

import { describe, expect, it } from 'vitest';
import { createAgentRegistry, defineAgent } from '../src/index.js';

const v = (version: string) => defineAgent({ id: '@acme/x', version, execute: () => version });

describe('agent registry', () => {
  it('resolves a semver range to the highest registered version that satisfies it', () => {
    const r = createAgentRegistry([v('1.0.0'), v('1.4.2'), v('2.0.0')]);
    expect(r.get('@acme/x', '^1.0.0')?.version).toBe('1.4.2');
    expect(r.get('@acme/x', '2.x')?.version).toBe('2.0.0');
    expect(r.get('@acme/x', '1.0.0')?.version).toBe('1.0.0');
    expect(r.get('@acme/x', '^3.0.0')).toBeUndefined();
    expect(r.get('@acme/x')?.version).toBe('2.0.0');
  });

  it('refuses to register the same id and version twice unless asked to replace', () => {
    const r = createAgentRegistry([v('1.0.0')]);
    expect(() => r.register(v('1.0.0'))).toThrow(/already registered/);
    expect(() => r.register(v('1.0.0'), { replace: true })).not.toThrow();
  });

  it('rejects agents without an id or an execute function', () => {
    expect(() => defineAgent({ id: 'Not Valid!', execute: () => 1 })).toThrow(/invalid agent id/);
    expect(() => defineAgent({ id: '@acme/y' } as never)).toThrow(/execute/);
  });
});

import { readFileSync } from 'node:fs';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import { createEngine } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { loadStream, runEvents, StreamDiagnosticCode } from '../src/index.js';

const page = readFileSync(new URL('../../../docs-site/concepts/streams.md', import.meta.url), 'utf8');
const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(page)![1]!;

describe('docs-site/concepts/streams.md', () => {
  it('its stream document is valid and gives the actions the page describes', async () => {
    const r = loadStream(yamlBlock);
    expect(r.diagnostics).toEqual([]);
    const engine = createEngine({ registry: createAgentRegistry([...builtinAgents, ...standardAgents]) });
    const at = (ms: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + ms).toISOString();
    const result = await runEvents({
      stream: r.stream!,
      engine,
      events: [
        { id: 'e1', ts: at(100), kind: 'goal', stream: 'match', payload: { team: 'home', player: 'ada' } },
        { id: 'e2', ts: at(300), kind: 'card', stream: 'match', payload: {} },
        { id: 'e3', ts: at(700), kind: 'goal', stream: 'match', payload: { team: 'away', player: 'bo' } },
      ],
    });
    await engine.close();
    expect(result.errors).toEqual([]);
    expect(result.actions.map((a) => [a.id, a.payload])).toEqual([
      ['match:0:scorer:0', { team: 'home', goalsBefore: 0 }],
      ['match:0:referee:0', { events: 2, announcements: 1 }],
      ['match:1:scorer:0', { team: 'away', goalsBefore: 1 }],
      ['match:1:referee:0', { events: 1, announcements: 1 }],
    ]);
    expect(result.context).toEqual({ goals: 2, scorers: ['ada', 'bo'], lastScorer: 'bo' });
  }, 60_000);

  it('lists every stream diagnostic code', () => {
    for (const code of Object.values(StreamDiagnosticCode)) expect(page).toContain(`\`${code}\``);
  });
});

import { readFileSync } from 'node:fs';
import { builtinAgents } from '@orchestr8/agent-base';
import { loadWorkflow } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { standardAgents } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const examples = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
const knownAgents = [...builtinAgents, ...standardAgents].map((a) => a.id);

describe('the package README', () => {
  it('has a workflow example for every agent', () => {
    for (const agent of standardAgents) {
      expect(
        examples.some((e) => e.includes(`"${agent.id}"`)),
        agent.id,
      ).toBe(true);
    }
  });

  it.each(examples.map((text) => [/id: (\S+)/.exec(text)?.[1] ?? '?', text]))(
    'example %s is a valid workflow',
    (_id, text) => {
      const r = loadWorkflow(text, { filename: 'example.yaml', knownAgents });
      expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    },
  );
});

import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import type { Clock } from '@orchestr8/common';
import { createEngine, type Engine } from '@orchestr8/core';
import { type CompiledStream, loadStream } from '../src/index.js';

export interface CrewInput {
  events: { id: string; ts: number; kind: string; payload: any }[];
  context: Record<string, unknown>;
  actions: { id: string; kind: string; payload: any }[];
  slice: { index: number; start: number; end: number; slices: number[] };
}

/** Gates a test holds closed to make a crew run longer than a slice. */
export const gates = new Map<string, Promise<void>>();

/** Test crews: deterministic functions of their slice input. */
export const testAgents = [
  defineAgent<{ in: CrewInput; key?: string }, unknown>({
    id: '@test/count',
    execute: ({ in: i, key }) => ({
      actions: [
        {
          kind: 'counted',
          payload: {
            n: i.events.length,
            ids: i.events.map((e) => e.id),
            upstream: i.actions.map((a) => a.id),
          },
        },
      ],
      context: { [key ?? 'count']: i.events.length },
    }),
  }),
  defineAgent<{ in: CrewInput; value: unknown; key: string }, unknown>({
    id: '@test/write',
    execute: ({ value, key }) => ({ context: { [key]: value } }),
  }),
  defineAgent<{ in: CrewInput }, unknown>({
    id: '@test/score',
    // Sums goal points into a counter, remembers scorers in a set, the last scorer by LWW.
    execute: ({ in: i }) => {
      const goals = i.events.filter((e) => e.kind === 'goal');
      return {
        actions: goals.map((g) => ({
          kind: 'announce',
          payload: { team: g.payload.team, before: i.context.score ?? 0 },
        })),
        context: {
          score: goals.reduce((s, g) => s + (g.payload.points as number), 0),
          scorers: goals.map((g) => g.payload.player),
          ...(goals.length > 0 ? { last: goals[goals.length - 1]!.payload.player } : {}),
        },
      };
    },
  }),
  defineAgent<{ name: string }, unknown>({
    id: '@test/gate',
    execute: async ({ name }, ctx) => {
      await new Promise<void>((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        const gate = gates.get(name);
        if (gate) void gate.then(resolve);
        else resolve();
      });
      return { actions: [{ kind: 'passed', payload: name }] };
    },
  }),
];

/** Crews that have started, for `@test/meet`. */
const started = new Map<string, () => void>();
const arrivals = new Map<string, Promise<void>>();
function arrival(name: string): Promise<void> {
  let p = arrivals.get(name);
  if (!p) {
    p = new Promise<void>((r) => started.set(name, r));
    arrivals.set(name, p);
  }
  return p;
}
testAgents.push(
  defineAgent<{ name: string; other: string }, unknown>({
    id: '@test/meet',
    execute: async ({ name, other }) => {
      void arrival(name);
      started.get(name)!();
      await arrival(other);
      return { actions: [{ kind: 'met', payload: `${name} met ${other}` }] };
    },
  }),
);

export function testEngine(clock?: Clock): Engine {
  return createEngine({
    registry: createAgentRegistry([...builtinAgents, ...testAgents]),
    ...(clock ? { clock } : {}),
  });
}

export function compiled(yaml: string): CompiledStream {
  const r = loadStream(yaml, { filename: 'test.stream.yaml' });
  if (!r.ok)
    throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join('\n'));
  return r.stream!;
}

/** A crew of one step running a test agent on the slice input. */
export function crew(
  id: string,
  on: string[],
  agent: string,
  extra: Record<string, unknown> = {},
  dependsOn: string[] = [],
  more = '',
) {
  const input = JSON.stringify({ in: '${inputs}', ...extra });
  return `  - id: ${id}
    on: [${on.join(', ')}]
    dependsOn: [${dependsOn.join(', ')}]${more}
    steps:
      - id: run
        agent: "${agent}"
        input: ${input}
`;
}

/**
 * `expect.poll` options for a state reached asynchronously: `what` names it in the failure,
 * and the timeout is generous for a loaded CI machine.
 */
export function waiting(what: string, timeout = 15_000) {
  return { message: `waiting for ${what}`, timeout, interval: 10 };
}

/** Embedding the engine in a program, as the "Embedding orchestr8" guide shows it (the guide includes this file). */
import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import { createEngine, createMemoryStore, type EngineEvent } from '@orchestr8/core';

// 1. Your agents, next to the built-in ones. Ids are lowercase: "@scope/name".
const shout = defineAgent<{ text: string }, { text: string }>({
  id: '@acme/shout',
  execute: ({ text }) => ({ text: `${text.toUpperCase()}!` }),
});

export async function greetAll(names: readonly string[], env: Record<string, string>) {
  // 2. One engine for the life of the program. A store you pass in stays yours to close;
  //    for executions that survive a restart use openSqliteStore from @orchestr8/store-sqlite.
  const store = createMemoryStore({ maxFinishedExecutions: 1_000 });
  const engine = createEngine({
    registry: createAgentRegistry([...builtinAgents, shout]),
    store,
    env,
    // 3. What documents may reach on this host: here one environment variable.
    capabilities: { env: ['GREETING'] },
  });

  // 4. Compile once (agents are checked against the registry; a mistake throws a
  //    ValidationError whose `details` are the diagnostics) ...
  const workflow = engine.compile(`
version: 1.0.0
metadata: { id: greet, name: Greet }
context:
  environment: [GREETING]
inputs:
  type: object
  properties: { name: { type: string } }
  required: [name]
steps:
  - id: greet
    agent: '@acme/shout'
    input: { text: '\${env.GREETING}, \${inputs.name}' }
outputs:
  text: \${steps.greet.output.text}
`);

  // 5. ... subscribe to events (a synchronous handler misses none) ...
  const finished: string[] = [];
  const subscription = engine.events.subscribe(
    (event: EngineEvent) => {
      finished.push(`${event.type} ${event.executionId}`);
    },
    { types: ['execution.completed', 'execution.failed'] },
  );

  // 6. ... and execute many times.
  const results = [];
  for (const name of names) results.push(await engine.execute(workflow, { inputs: { name } }));

  // 7. Close: waits for running executions, drains pending writes. The store was passed
  //    in, so close it too (an engine closes only a store it created itself).
  await engine.events.flush();
  subscription.unsubscribe();
  await engine.close();
  await store.close();
  return { outputs: results.map((r) => r.outputs), finished, dropped: subscription.dropped };
}

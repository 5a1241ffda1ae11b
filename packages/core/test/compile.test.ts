import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agent, testEngine } from './helpers.js';

const echo = agent('@test/echo', (input) => input);
const yaml = `version: 1.0.0
metadata: { id: greet, name: Greet }
inputs:
  type: object
  properties: { name: { type: string } }
steps:
  - id: hello
    agent: '@test/echo'
    input: { greeting: 'Hello \${inputs.name}' }
outputs:
  greeting: \${steps.hello.output.greeting}
`;

describe('engine.compile', () => {
  it('compiles YAML text against the engine’s agents, ready to execute many times', async () => {
    const { engine } = testEngine([echo]);
    const workflow = engine.compile(yaml);
    expect(engine.compile(yaml)).toBe(workflow); // compiled once
    const a = await engine.execute(workflow, { inputs: { name: 'Ada' } });
    const b = await engine.execute(workflow, { inputs: { name: 'Grace' } });
    expect([a.outputs, b.outputs]).toEqual([{ greeting: 'Hello Ada' }, { greeting: 'Hello Grace' }]);
  });

  it('compiles a document object, once per object', () => {
    const { engine } = testEngine([echo]);
    const doc = {
      version: '1.0.0',
      metadata: { id: 'obj', name: 'obj' },
      steps: [{ id: 'a', agent: '@test/echo' }],
    };
    const workflow = engine.compile(doc);
    expect(workflow.id).toBe('obj');
    expect(engine.compile(doc)).toBe(workflow);
  });

  it('rejects an agent the registry does not have, with the diagnostics', () => {
    const { engine } = testEngine([echo]);
    const doc = {
      version: '1.0.0',
      metadata: { id: 'x', name: 'x' },
      steps: [{ id: 'a', agent: '@test/missing' }],
    };
    let caught: any;
    try {
      engine.compile(doc);
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({ code: 'VALIDATION' });
    expect(caught.message).toContain('E_UNKNOWN_AGENT');
    expect(caught.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'E_UNKNOWN_AGENT', pointer: '/steps/0/agent' }),
      ]),
    );
  });

  it('names the file and the line of a mistake in a workflow file', async () => {
    const { engine } = testEngine([echo]);
    const dir = mkdtempSync(join(tmpdir(), 'orchestr8-compile-'));
    writeFileSync(join(dir, 'ok.yaml'), yaml);
    writeFileSync(join(dir, 'bad.yaml'), yaml.replace("'@test/echo'", "'@test/nope'"));
    expect((await engine.compileFile(join(dir, 'ok.yaml'))).id).toBe('greet');
    await expect(engine.compileFile(join(dir, 'bad.yaml'))).rejects.toThrow(
      /bad\.yaml:\d+:\d+ .*E_UNKNOWN_AGENT/,
    );
  });
});

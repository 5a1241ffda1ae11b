import type { EngineEvent } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { AboveView, ProgressView } from '../src/progress.js';
import { formatDuration } from '../src/term.js';
import { screen } from './fixtures/screen.js';

function fakeTty(): NodeJS.WriteStream & { writes: string[] } {
  const writes: string[] = [];
  return {
    isTTY: true,
    columns: 200,
    writes,
    write(chunk: string) {
      writes.push(String(chunk));
      return true;
    },
  } as unknown as NodeJS.WriteStream & { writes: string[] };
}

const workflow = validateWorkflowObject({
  version: '1.0.0',
  metadata: { id: 'p', name: 'p' },
  steps: [
    { id: 'fetch', agent: 'a', input: {} },
    { id: 'greet', agent: 'a', input: {}, dependencies: ['fetch'] },
  ],
}).workflow!;

const event = (
  seq: number,
  type: string,
  stepId: string,
  data: Record<string, unknown> = {},
): EngineEvent => ({
  seq,
  ts: 1000 + seq,
  elapsedMs: seq,
  type,
  stepId,
  attempt: 1,
  data,
  executionId: 'x',
  workflowId: 'p',
});

describe('the live view on a terminal', () => {
  it('prints log lines above the step rows and draws the rows again below them, overwriting neither', () => {
    const out = fakeTty();
    const view = new ProgressView(workflow, out);
    const stderr = new AboveView(out);
    stderr.view = view;
    stderr.write('execution x\n');
    view.start();
    view.onEvent(event(1, 'step.started', 'fetch'));
    stderr.write('WARN step fetch retrying\n');
    stderr.write('WARN step fetch retrying again\n');
    view.onEvent(event(2, 'step.completed', 'fetch', { output: {} }));
    view.stop();
    stderr.view = undefined;
    stderr.write('done\n');
    const shown = screen(out.writes).map((l) => l.trim());
    expect(shown[0]).toBe('execution x');
    expect(shown[1]).toBe('WARN step fetch retrying');
    expect(shown[2]).toBe('WARN step fetch retrying again');
    expect(shown[3]).toMatch(/^✓ fetch\s+completed/);
    expect(shown[4]).toMatch(/^○ greet\s+pending/);
    expect(shown[5]).toBe('done');
    expect(shown).toHaveLength(6);
  });

  it('writes straight through when the output is not a terminal', () => {
    const writes: string[] = [];
    const out = { isTTY: false, write: (c: string) => writes.push(c) } as unknown as NodeJS.WriteStream;
    const view = new ProgressView(workflow, out);
    const stderr = new AboveView(out);
    stderr.view = view;
    view.start();
    stderr.write('WARN x\n');
    expect(writes).toEqual(['WARN x\n']);
  });
});

describe('durations', () => {
  it.each([
    [0, '0 ms'],
    [0.18, '0 ms'],
    [250, '250 ms'],
    [999.6, '1 s'],
    [1500, '1.5 s'],
    [2000, '2 s'],
    [17_640, '17.6 s'],
    [125_000, '2 min 5 s'],
    [3_780_000, '1 h 3 min'],
  ])('%s ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('the live view off a terminal', () => {
  it('prints one line for a resumed step that starts at attempt 2 and reports attempt 2', () => {
    const writes: string[] = [];
    const out = { isTTY: false, write: (c: string) => writes.push(c) } as unknown as NodeJS.WriteStream;
    const view = new ProgressView(workflow, out);
    view.onEvent({ ...event(5, 'step.started', 'fetch'), attempt: 2 });
    view.onEvent({ ...event(6, 'step.attempt', 'fetch'), attempt: 2 });
    expect(writes).toEqual(['◐ fetch running   attempt 2\n']);
  });
});

import type { EngineEvent } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { AboveView, ProgressView } from '../src/progress.js';

/** The lines a terminal shows after these writes (cursor up, clear line, clear below; colours dropped). */
function screen(writes: string[]): string[] {
  const lines: string[] = [''];
  let row = 0;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes
  const tokens = writes.join('').split(/(\x1b\[[0-9;]*[A-Za-z]|\n)/);
  for (const t of tokens) {
    if (t === '') continue;
    if (t === '\n') {
      row++;
      if (lines.length <= row) lines.push('');
      continue;
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes
    const esc = /^\x1b\[([0-9;]*)([A-Za-z])$/.exec(t);
    if (esc) {
      const [, n, cmd] = esc;
      if (cmd === 'A') row = Math.max(0, row - Number(n || 1));
      else if (cmd === 'K') lines[row] = '';
      else if (cmd === 'J') lines.splice(row, lines.length - row, '');
      continue;
    }
    lines[row] = (lines[row] ?? '') + t;
  }
  return lines.filter((l, i) => l !== '' || i < lines.length - 1);
}

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

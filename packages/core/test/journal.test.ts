// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
import { RetryableError, TerminalError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { TRUNCATED } from '../src/index.js';
import { abortable, agent, compile, dataOf, entriesOf, journalOf, settle, testEngine } from './helpers.js';

const echo = agent('@t/echo', (input) => input);
const boom = agent('@t/boom', () => {
  throw new TerminalError('boom');
});

describe('journal', () => {
  it('journals the start, every attempt, every retry with the delay chosen, and the completion, with inputs and outputs', async () => {
    let calls = 0;
    const flaky = agent('@t/flaky', (input: { who: string }) => {
      calls++;
      if (calls < 3) throw new RetryableError(`flake ${calls}`);
      return { greeting: `hi ${input.who}` };
    });
    const wf = compile({
      inputs: { type: 'object', properties: { name: { type: 'string' } } },
      steps: [{ id: 'f', agent: '@t/flaky', input: { who: '${inputs.name}' } }],
      policies: {
        resilience: {
          retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 'none' },
        },
      },
    });
    const { engine, clock } = testEngine([flaky]);
    const handle = await engine.start(wf, { inputs: { name: 'Ada' } });
    await clock.runAll();
    const r = await handle.result;
    expect(r.status).toBe('completed');
    const j = await journalOf(engine, r.executionId);

    expect(j.map((e) => [e.type, e.stepId, e.attempt])).toEqual([
      ['execution.started', undefined, undefined],
      ['step.started', 'f', 1],
      ['step.retrying', 'f', 1],
      ['step.attempt', 'f', 2],
      ['step.retrying', 'f', 2],
      ['step.attempt', 'f', 3],
      ['step.completed', 'f', 3],
      ['execution.completed', undefined, undefined],
    ]);
    expect(dataOf(j[0])).toMatchObject({ workflowId: 'test', inputs: { name: 'Ada' } });
    expect(dataOf(j[1])).toEqual({ agent: '@t/flaky', input: { who: 'Ada' } });
    const retries = entriesOf(j, 'step.retrying').map(dataOf);
    expect(retries.map((d) => [d.nextAttempt, d.delayMs, d.error.code, d.error.message])).toEqual([
      [2, 100, 'RETRYABLE', 'flake 1'],
      [3, 200, 'RETRYABLE', 'flake 2'],
    ]);
    // The delays chosen are the delays waited (fake clock).
    expect(entriesOf(j, 'step.attempt').map((e) => e.elapsedMs)).toEqual([100, 300]);
    expect(dataOf(entriesOf(j, 'step.completed')[0])).toMatchObject({ output: { greeting: 'hi Ada' } });
    expect(dataOf(j[j.length - 1])).toMatchObject({ outputs: { f: { greeting: 'hi Ada' } } });
  });

  it('journals each timed-out attempt with its limit, and the failure with its error', async () => {
    const wf = compile({
      steps: [
        {
          id: 's',
          agent: '@t/slow',
          input: { n: 1 },
          policies: { timeout: 500, retry: { maxAttempts: 2, baseDelayMs: 10, jitter: 'none' } },
        },
      ],
    });
    const { engine, clock } = testEngine([abortable('@t/slow')]);
    const handle = await engine.start(wf);
    await clock.runAll();
    const r = await handle.result;
    expect(r.status).toBe('failed');
    const j = await journalOf(engine, r.executionId);

    const timeouts = entriesOf(j, 'timeout.exceeded', 's');
    expect(timeouts.map((e) => [e.attempt, dataOf(e).timeoutMs])).toEqual([
      [1, 500],
      [2, 500],
    ]);
    expect(dataOf(entriesOf(j, 'step.retrying', 's')[0]).error.code).toBe('TIMEOUT');
    const failed = entriesOf(j, 'step.failed', 's');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attempt).toBe(2);
    expect(dataOf(failed[0])).toMatchObject({ error: { code: 'TIMEOUT', attempts: 2 }, onError: 'fail' });
    const end = j[j.length - 1]!;
    expect(end.type).toBe('execution.failed');
    expect(dataOf(end).error.code).toBe('TIMEOUT');
  });

  it('journals a skipped step and a step skipped because of it, each with its reason', async () => {
    const wf = compile({
      steps: [
        { id: 'a', agent: '@t/echo', input: {}, condition: { if: 'inputs.go == true' } },
        { id: 'b', agent: '@t/echo', input: {}, dependencies: ['a'] },
      ],
    });
    const { engine } = testEngine([echo]);
    const r = await engine.execute(wf, { inputs: { go: false } });
    const j = await journalOf(engine, r.executionId);
    expect(entriesOf(j, 'step.started')).toEqual([]);
    const skipped = entriesOf(j, 'step.skipped');
    expect(skipped.map((e) => [e.stepId, dataOf(e).reason])).toEqual([
      ['a', 'condition if `inputs.go == true` was false'],
      ['b', 'dependency "a" was skipped'],
    ]);
  });

  it('journals a fallback: the error that triggered it, the fallback run with its input, and the aliased completion', async () => {
    const wf = compile({
      steps: [
        { id: 'primary', agent: '@t/boom', input: { q: 'x' }, onError: 'fallback', fallbackStepId: 'backup' },
        { id: 'backup', agent: '@t/echo', input: {} },
      ],
    });
    const { engine } = testEngine([echo, boom]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    const j = await journalOf(engine, r.executionId);
    const steps = j.filter((e) => e.stepId !== undefined).map((e) => [e.type, e.stepId]);
    expect(steps).toEqual([
      ['step.started', 'primary'],
      ['step.fallback', 'primary'],
      ['step.started', 'backup'],
      ['step.completed', 'backup'],
      ['step.completed', 'primary'],
    ]);
    expect(dataOf(entriesOf(j, 'step.fallback')[0])).toMatchObject({
      fallbackStepId: 'backup',
      error: { code: 'TERMINAL', message: 'boom' },
    });
    expect(dataOf(entriesOf(j, 'step.started', 'backup')[0])).toMatchObject({
      input: { q: 'x' },
      fallbackFor: 'primary',
    });
    expect(dataOf(entriesOf(j, 'step.completed', 'primary')[0])).toMatchObject({
      output: { q: 'x' },
      aliasFor: 'backup',
    });
  });

  it('journals a cancellation: the request, each cancelled step with its reason, and the cancelled end', async () => {
    const wf = compile({
      steps: [
        { id: 'w', agent: '@t/wait', input: {} },
        { id: 'next', agent: '@t/wait', input: {}, dependencies: ['w'] },
      ],
    });
    const { engine } = testEngine([abortable('@t/wait')]);
    const handle = await engine.start(wf);
    await settle();
    engine.cancel(handle.id, { reason: 'user asked' });
    const r = await handle.result;
    expect(r.status).toBe('cancelled');
    const j = await journalOf(engine, r.executionId);
    expect(dataOf(entriesOf(j, 'execution.cancelling')[0])).toMatchObject({
      status: 'cancelled',
      reason: 'user asked',
    });
    const cancelled = Object.fromEntries(
      entriesOf(j, 'step.cancelled').map((e) => [e.stepId, dataOf(e).reason]),
    );
    expect(cancelled).toEqual({ w: 'user asked', next: 'execution cancelled before the step started' });
    const end = j[j.length - 1]!;
    expect(end.type).toBe('execution.cancelled');
    expect(dataOf(end).error).toMatchObject({ code: 'CANCELLED', message: 'user asked' });
  });

  it('numbers entries from 1 without gaps, with elapsedMs and ts that never go back', async () => {
    let calls = 0;
    const flaky = agent('@t/flaky', () => {
      if (++calls % 2 === 1) throw new RetryableError('odd call');
      return calls;
    });
    const wf = compile({
      steps: [
        { id: 'a', agent: '@t/flaky', input: {} },
        { id: 'b', agent: '@t/flaky', input: {}, dependencies: ['a'] },
        { id: 'c', agent: '@t/flaky', input: {}, dependencies: ['a'] },
        { id: 'd', agent: '@t/echo', input: {}, dependencies: ['b', 'c'] },
      ],
      policies: { resilience: { retry: { maxAttempts: 3, baseDelayMs: 50, jitter: 'none' } } },
    });
    const { engine, clock } = testEngine([flaky, echo]);
    const handle = await engine.start(wf);
    await clock.runAll();
    const r = await handle.result;
    expect(r.status).toBe('completed');
    const j = await journalOf(engine, r.executionId);
    expect(j.length).toBeGreaterThan(8);
    expect(j.map((e) => e.seq)).toEqual(j.map((_, i) => i + 1));
    for (let i = 1; i < j.length; i++) {
      expect(j[i]!.elapsedMs).toBeGreaterThanOrEqual(j[i - 1]!.elapsedMs);
      expect(j[i]!.ts).toBeGreaterThanOrEqual(j[i - 1]!.ts);
    }
    // Time did pass (the retries waited on the fake clock), and the journal shows it.
    expect(j[j.length - 1]!.elapsedMs).toBeGreaterThanOrEqual(100);
  });

  describe('caps', () => {
    it('cuts a field larger than maxFieldBytes to a [truncated] preview that, stored, fits the cap, with the original size in bytes', async () => {
      const big = { text: 'é'.repeat(100) };
      const wf = compile({ steps: [{ id: 'a', agent: '@t/big', input: { small: 'ok' } }] });
      const { engine } = testEngine([agent('@t/big', () => big)], { journal: { maxFieldBytes: 128 } });
      const r = await engine.execute(wf);
      const j = await journalOf(engine, r.executionId);
      // A field under the cap is kept as it is.
      expect(dataOf(entriesOf(j, 'step.started', 'a')[0]).input).toEqual({ small: 'ok' });
      const json = JSON.stringify(big);
      // originalBytes counts UTF-8 bytes: 111 characters, 211 bytes.
      expect([json.length, Buffer.byteLength(json)]).toEqual([111, 211]);
      const out = dataOf(entriesOf(j, 'step.completed', 'a')[0]).output;
      expect(out).toMatchObject({ [TRUNCATED]: true, originalBytes: 211 });
      expect(json.startsWith(out.preview)).toBe(true);
      expect(out.preview.length).toBeGreaterThan(20);
      // The stored field, marker and all, is within the cap.
      expect(storedBytes(out)).toBeLessThanOrEqual(128);
      // Only the journal is capped: the step's output is whole.
      expect(r.steps.a!.output).toEqual(big);
    });

    it('keeps fields up to 8 KiB of stored JSON by default and cuts larger ones to at most 8 KiB', async () => {
      const wf = compile({
        inputs: { type: 'object', properties: { n: { type: 'integer' } } },
        steps: [{ id: 'a', agent: '@t/str', input: { n: '${inputs.n}' } }],
      });
      const { engine } = testEngine([agent('@t/str', (input: { n: number }) => 'x'.repeat(input.n))]);
      // JSON of a string is its length + 2 quotes: 8190 chars is 8192 bytes, exactly the cap.
      const kept = await engine.execute(wf, { inputs: { n: 8190 } });
      const cut = await engine.execute(wf, { inputs: { n: 8191 } });
      const keptOut = dataOf(
        entriesOf(await journalOf(engine, kept.executionId), 'step.completed')[0],
      ).output;
      const cutOut = dataOf(entriesOf(await journalOf(engine, cut.executionId), 'step.completed')[0]).output;
      expect(keptOut).toBe('x'.repeat(8190));
      expect(cutOut).toMatchObject({ [TRUNCATED]: true, originalBytes: 8193 });
      expect(cutOut.preview).toMatch(/^"x+$/);
      expect(storedBytes(cutOut)).toBeLessThanOrEqual(8192);
      expect(storedBytes(cutOut)).toBeGreaterThan(8192 - 8);
    });

    it.each([
      ['CJK text', '漢字かな交じり文'.repeat(2000)],
      ['emoji', '😀👩‍💻🚀'.repeat(2000)],
      ['control characters', '\u0001\u0002\u001f'.repeat(5000)],
      ['quotes and backslashes', '"\\'.repeat(6000)],
      ['a lone surrogate', `\ud800${'a'.repeat(9000)}`],
    ])(
      'counts %s in UTF-8 bytes of the escaped JSON: the field as stored stays within 8 KiB',
      async (_name, text) => {
        const wf = compile({ steps: [{ id: 'a', agent: '@t/text', input: {} }] });
        const { engine } = testEngine([agent('@t/text', () => ({ text }))]);
        const r = await engine.execute(wf);
        const out = dataOf(entriesOf(await journalOf(engine, r.executionId), 'step.completed')[0]).output;
        expect(out).toMatchObject({ [TRUNCATED]: true, originalBytes: storedBytes({ text }) });
        expect(storedBytes(out)).toBeLessThanOrEqual(8 * 1024);
        // The preview is the start of the JSON, cut between characters and between escapes.
        const json = JSON.stringify({ text });
        expect(json.startsWith(out.preview)).toBe(true);
        expect(out.preview).not.toMatch(/\\(u[0-9a-f]{0,3})?$/);
        expect(out.preview).not.toMatch(/[\ud800-\udbff]$/);
      },
    );

    it('keeps a field that is just under 8 KiB in bytes, multi-byte characters and escapes included', async () => {
      // 2730 CJK characters: 8190 bytes + 2 quotes = exactly 8 KiB; a tab more is 2 bytes over.
      const exact = '字'.repeat(2730);
      const over = `${exact}\t`;
      const wf = compile({
        inputs: { type: 'object', properties: { over: { type: 'boolean' } } },
        steps: [{ id: 'a', agent: '@t/text', input: { over: '${inputs.over}' } }],
      });
      const { engine } = testEngine([agent('@t/text', (i: { over: boolean }) => (i.over ? over : exact))]);
      const kept = await engine.execute(wf, { inputs: { over: false } });
      const cut = await engine.execute(wf, { inputs: { over: true } });
      const outOf = async (id: string) =>
        dataOf(entriesOf(await journalOf(engine, id), 'step.completed')[0]).output;
      expect(await outOf(kept.executionId)).toBe(exact);
      expect(await outOf(cut.executionId)).toMatchObject({ [TRUNCATED]: true, originalBytes: 8194 });
    });

    it.each([
      ['CJK text', '漢字かな交じり文'.repeat(1200)],
      ['control characters', '\u0001\u0007'.repeat(4000)],
    ])('keeps the whole journal of an execution within 10 MiB as stored, for %s', async (_name, text) => {
      // Each step journals its input and its output near the 8 KiB field cap: ~16 KiB a step.
      const n = 800;
      const wf = compile({
        steps: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, agent: '@t/text', input: { text } })),
        policies: { concurrency: { maxConcurrentSteps: 50 } },
      });
      const { engine } = testEngine([agent('@t/text', (input) => input)]);
      const r = await engine.execute(wf);
      expect(r.status).toBe('completed');
      expect(r.journalDropped).toBeGreaterThan(0);
      const j = await journalOf(engine, r.executionId);
      const total = j.reduce((sum, e) => sum + storedBytes(e), 0);
      expect(total).toBeLessThanOrEqual(10 * 1024 * 1024);
      // The cap is used, not undercut by a large margin: more than 9 MiB is kept.
      expect(total).toBeGreaterThan(9 * 1024 * 1024);
    });

    it('drops the oldest entries beyond maxExecutionBytes, counts them, and the store no longer returns them', async () => {
      const steps = Array.from({ length: 30 }, (_, i) => ({
        id: `s${i}`,
        agent: '@t/echo',
        input: { i, pad: 'p'.repeat(40) },
        ...(i > 0 ? { dependencies: [`s${i - 1}`] } : {}),
      }));
      const wf = compile({ steps });

      const whole = testEngine([echo]).engine;
      const full = await whole.execute(wf);
      const fullJournal = await journalOf(whole, full.executionId);
      expect(full.journalDropped).toBeUndefined();
      expect(fullJournal.map((e) => e.seq)).toEqual(fullJournal.map((_, i) => i + 1));

      const { engine } = testEngine([echo], { journal: { maxExecutionBytes: 2000 } });
      const r = await engine.execute(wf);
      expect(r.status).toBe('completed');
      const dropped = r.journalDropped ?? 0;
      expect(dropped).toBeGreaterThan(0);
      const j = await journalOf(engine, r.executionId);
      // The newest entries are kept, in order and without gaps, and exactly the dropped ones are gone.
      expect(j[0]!.seq).toBe(dropped + 1);
      expect(j.map((e) => e.seq)).toEqual(j.map((_, i) => dropped + 1 + i));
      // One extra entry says, once, that the cap was reached.
      expect(j.length + dropped).toBe(fullJournal.length + 1);
      expect(j[j.length - 1]!.type).toBe('execution.completed');
      expect(entriesOf(j, 'execution.started')).toEqual([]);
      // The kept entries are the same as the uncapped run's newest ones.
      const kept = j.filter((e) => e.type !== 'journal.dropped');
      expect(kept.map((e) => [e.type, e.stepId])).toEqual(
        // d entries were dropped from the n + 1 appended; one fewer of them came from the
        // uncapped sequence when the journal.dropped entry itself was among the dropped.
        fullJournal.slice(kept.length < j.length ? dropped : dropped - 1).map((e) => [e.type, e.stepId]),
      );
    });
  });
});

/** The UTF-8 bytes of a value as the store holds it (JSON). */
function storedBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

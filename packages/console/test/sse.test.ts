import { describe, expect, it } from 'vitest';
import type { JournalEntryLike } from '../app/lib/execution-state.js';
import { followExecution } from '../app/lib/sse.js';

function stream(frames: string[], endAfter = true): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  // One frame per read, then the end (or a reset, as a dropped connection gives).
  return new ReadableStream({
    pull(c) {
      const f = frames[i++];
      if (f !== undefined) c.enqueue(enc.encode(f));
      else if (endAfter) c.close();
      else c.error(new Error('connection reset'));
    },
  });
}
const frame = (seq: number, type: string) =>
  `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify({ seq, ts: seq, type, stepId: 's' })}\n\n`;

describe('following an execution stream', () => {
  it('resumes with Last-Event-ID after a drop, without repeating or losing entries', async () => {
    const asked: (string | undefined)[] = [];
    const got: JournalEntryLike[] = [];
    const connections = [
      // Drops mid-way (network error) after seq 2.
      () => stream([': keep-alive\n\n', frame(1, 'execution.started'), frame(2, 'step.started')], false),
      // The server resends 2 (it may), then goes on; ends cleanly but not at a terminal event.
      () => stream([frame(2, 'step.started'), frame(3, 'step.retrying')]),
      () => stream([frame(4, 'step.completed'), frame(5, 'execution.completed')]),
    ];
    const states: string[] = [];
    const done = new Promise<void>((resolve) => {
      followExecution({
        open: async (lastEventId) => {
          asked.push(lastEventId);
          return new Response(connections[asked.length - 1]!());
        },
        onEntries: (es) => got.push(...es),
        onState: (s) => {
          states.push(s);
          if (s === 'ended') resolve();
        },
        isTerminal: (t) => t === 'execution.completed',
        sleep: async () => {},
        batchMs: 0,
      });
    });
    await done;
    expect(asked).toEqual([undefined, '2', '3']);
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(states.filter((s) => s === 'retrying')).toHaveLength(1);
  });

  it('backs off between failed connections, doubling up to a bound', async () => {
    const delays: number[] = [];
    let n = 0;
    await new Promise<void>((resolve) => {
      const f = followExecution({
        open: async () => {
          n++;
          if (n <= 5) return new Response('nope', { status: 503 });
          return new Response(stream([frame(1, 'execution.completed')]));
        },
        onEntries: () => {},
        onState: (s) => s === 'ended' && resolve(),
        isTerminal: (t) => t === 'execution.completed',
        sleep: async (ms) => {
          delays.push(ms);
        },
        maxDelayMs: 3000,
        batchMs: 0,
      });
      void f;
    });
    expect(delays).toEqual([500, 1000, 2000, 3000, 3000]);
  });

  it('stops when a stream ends and the execution is known to be over, and restarts on request', async () => {
    let opened = 0;
    const asked: (string | undefined)[] = [];
    let finished = true;
    let ended = 0;
    let signalEnd!: () => void;
    const f = followExecution({
      open: async (last) => {
        opened++;
        asked.push(last);
        return new Response(
          stream(opened === 1 ? [frame(7, 'step.completed')] : [frame(8, 'execution.completed')]),
        );
      },
      onEntries: () => {},
      onState: (s) => {
        if (s === 'ended') {
          ended++;
          signalEnd?.();
        }
      },
      isTerminal: (t) => t === 'execution.completed',
      isFinished: () => finished,
      sleep: async () => {},
      batchMs: 0,
    });
    await new Promise<void>((r) => {
      signalEnd = r;
    });
    expect(opened).toBe(1);
    finished = false;
    await new Promise<void>((r) => {
      signalEnd = r;
      f.restart();
    });
    expect(asked).toEqual([undefined, '7']);
    expect(f.lastSeq).toBe(8);
    expect(ended).toBe(2);
    f.close();
  });

  it('asks again for entries a restart dropped before they were delivered', async () => {
    // The console restarts the stream after an action (a cancel); the execution's last entries
    // can arrive on the old stream within the batch window, just before the restart.
    const asked: (string | undefined)[] = [];
    const got: JournalEntryLike[] = [];
    let received!: () => void;
    const bothRead = new Promise<void>((r) => {
      received = r;
    });
    const enc = new TextEncoder();
    const f = followExecution({
      open: async (last, signal) => {
        asked.push(last);
        if (asked.length > 1)
          return new Response(
            stream([frame(1, 'step.started'), frame(2, 'step.cancelled'), frame(3, 'execution.cancelled')]),
          );
        const frames = [frame(1, 'step.started'), frame(2, 'step.cancelled')];
        let i = 0;
        // Two frames, then open until aborted, as a live stream is.
        return new Response(
          new ReadableStream<Uint8Array>({
            pull(c) {
              const fr = frames[i++];
              if (fr !== undefined) return void c.enqueue(enc.encode(fr));
              received();
              return new Promise<void>((resolve) =>
                signal.addEventListener('abort', () => {
                  c.error(new DOMException('aborted', 'AbortError'));
                  resolve();
                }),
              );
            },
          }),
        );
      },
      onEntries: (es) => got.push(...es),
      isTerminal: (t) => t === 'execution.cancelled',
      sleep: async () => {},
      // Longer than the test: nothing of the first stream is delivered before the restart.
      batchMs: 60_000,
    });
    await bothRead;
    const ended = new Promise<void>((r) => {
      const poll = setInterval(() => {
        if (got.some((e) => e.type === 'execution.cancelled')) {
          clearInterval(poll);
          r();
        }
      }, 5);
    });
    f.restart();
    await ended;
    f.close();
    expect(asked).toEqual([undefined, undefined]);
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});

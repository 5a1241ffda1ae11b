import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gate, oneStep, post, problemOf, startServer, type TestServer, waitTerminal } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ keepAliveMs: 50 });
});
afterAll(() => t.stop());

interface Frame {
  id?: string;
  event?: string;
  data: any;
}

/** A raw SSE reader: frames one at a time, comments counted, the connection closable at any point. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let comments = 0;
  let ended = false;
  return {
    get comments() {
      return comments;
    },
    get ended() {
      return ended;
    },
    /** The next frame with data, or undefined when the server ended the stream. */
    async next(): Promise<Frame | undefined> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: Frame = { data: undefined };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments++;
            else if (line.startsWith('id: ')) frame.id = line.slice(4);
            else if (line.startsWith('event: ')) frame.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              frame.data = JSON.parse(line.slice(6));
              hasData = true;
            }
          }
          if (hasData) return frame;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) {
          ended = true;
          return undefined;
        }
        buffer += value;
      }
    },
    close() {
      abort.abort();
    },
  };
}

type Stream = Awaited<ReturnType<typeof openStream>>;

async function readUntil(s: Stream, stop: (f: Frame) => boolean): Promise<Frame[]> {
  const out: Frame[] = [];
  for (;;) {
    const f = await s.next();
    if (!f) return out;
    out.push(f);
    if (stop(f)) return out;
  }
}

/** first (gate A) -> second (gate B) -> third: events in three bursts. */
function twoGates(a: string, b: string) {
  return {
    version: '1.0.0',
    metadata: { id: 'two-gates' },
    steps: [
      { id: 'first', agent: '@test/gate', input: { name: a } },
      { id: 'second', agent: '@test/gate', dependencies: ['first'], input: { name: b } },
      { id: 'third', agent: '@orchestr8/echo', dependencies: ['second'], input: {} },
    ],
  };
}

async function journalSeqs(id: string): Promise<number[]> {
  const text = await (await fetch(`${t.url}/executions/${id}/journal?limit=10000`)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
}

describe('GET /executions/:id/events', () => {
  it('replays a finished execution, ids being journal seqs, and ends after the terminal event', async () => {
    const done = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('sse-finished') })
    ).json()) as Record<string, any>;
    const s = await openStream(`${t.url}/executions/${done.executionId}/events`);
    const frames = await readUntil(s, () => false);
    expect(s.ended).toBe(true);
    expect(frames.map((f) => Number(f.id))).toEqual(await journalSeqs(done.executionId));
    expect(frames[0]!.event).toBe('execution.started');
    expect(frames.at(-1)!.event).toBe('execution.completed');
    for (const f of frames) {
      expect(f.data.executionId).toBe(done.executionId);
      expect(f.data.type).toBe(f.event);
      expect(String(f.data.seq)).toBe(f.id);
    }
  });

  it('streams a running execution live, then ends', async () => {
    const g = gate('sse-live');
    const started = (await (
      await post(`${t.url}/workflows/execute`, { workflow: twoGates('sse-live', 'sse-live') })
    ).json()) as Record<string, any>;
    const s = await openStream(`${t.url}/executions/${started.executionId}/events`);
    const head = await readUntil(s, (f) => f.event === 'step.started');
    g.open();
    const rest = await readUntil(s, () => false);
    expect(s.ended).toBe(true);
    const seqs = [...head, ...rest].map((f) => Number(f.id));
    expect(seqs).toEqual(await journalSeqs(started.executionId));
  });

  it('resumes with Last-Event-ID, losing and repeating nothing, across events missed while away', async () => {
    const a = gate('resume-a');
    const b = gate('resume-b');
    const started = (await (
      await post(`${t.url}/workflows/execute`, { workflow: twoGates('resume-a', 'resume-b') })
    ).json()) as Record<string, any>;
    const url = `${t.url}/executions/${started.executionId}/events`;

    const s1 = await openStream(url);
    const part1 = await readUntil(s1, (f) => f.event === 'step.started' && f.data.stepId === 'first');
    s1.close();
    // Events happen while the client is away.
    a.open();
    for (let i = 0; i < 200; i++) {
      const steps = (await (await fetch(`${t.url}/executions/${started.executionId}`)).json()) as Record<
        string,
        any
      >;
      if (steps.steps.second?.status === 'running') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const s2 = await openStream(url, { 'last-event-id': part1.at(-1)!.id! });
    const part2 = await readUntil(s2, (f) => f.event === 'step.started' && f.data.stepId === 'second');
    s2.close();
    const s3 = await openStream(url, { 'last-event-id': part2.at(-1)!.id! });
    // And events happen while the client is connected.
    b.open();
    const part3 = await readUntil(s3, () => false);
    expect(s3.ended).toBe(true);

    const seqs = [...part1, ...part2, ...part3].map((f) => Number(f.id));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual(await journalSeqs(started.executionId));
    expect(part3.at(-1)!.event).toBe('execution.completed');
  });

  it('accepts the last id as ?lastEventId= too', async () => {
    const done = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('sse-query') })
    ).json()) as Record<string, any>;
    const seqs = await journalSeqs(done.executionId);
    const s = await openStream(`${t.url}/executions/${done.executionId}/events?lastEventId=2`);
    const frames = await readUntil(s, () => false);
    expect(frames.map((f) => Number(f.id))).toEqual(seqs.filter((q) => q > 2));
  });

  it('sends keep-alive comments while nothing happens', async () => {
    const g = gate('sse-idle');
    const started = (await (
      await post(`${t.url}/workflows/execute`, { workflow: twoGates('sse-idle', 'sse-idle') })
    ).json()) as Record<string, any>;
    const s = await openStream(`${t.url}/executions/${started.executionId}/events`);
    await readUntil(s, (f) => f.event === 'step.started');
    // The next frame comes only after the gate opens; keep-alives arrive meanwhile.
    const before = s.comments;
    const waiting = s.next();
    for (let i = 0; i < 400 && s.comments === before; i++) await new Promise((r) => setTimeout(r, 10));
    g.open();
    await waiting;
    await readUntil(s, () => false);
    expect(s.comments).toBeGreaterThan(before);
  });

  it('answers 404 for an unknown execution and 400 for a Last-Event-ID that is not a seq', async () => {
    expect((await problemOf(await fetch(`${t.url}/executions/nope/events`))).status).toBe(404);
    const done = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('sse-bad-id') })
    ).json()) as Record<string, any>;
    const p = await problemOf(
      await fetch(`${t.url}/executions/${done.executionId}/events`, { headers: { 'last-event-id': 'abc' } }),
    );
    expect(p.status).toBe(400);
  });
});

describe('a journal trimmed by its size cap', () => {
  it('is replayed from what is left, and the stream still ends', async () => {
    const small = await startServer({
      engine: { journal: { maxExecutionBytes: 4096, maxFieldBytes: 1024 } },
    });
    try {
      const steps = Array.from({ length: 30 }, (_, i) => ({
        id: `s${i}`,
        agent: '@orchestr8/echo',
        ...(i > 0 ? { dependencies: [`s${i - 1}`] } : {}),
        input: { blob: 'x'.repeat(300) },
      }));
      const doc = { version: '1.0.0', metadata: { id: 'trimmed' }, steps };
      const done = (await (
        await post(`${small.url}/workflows/execute?wait=10`, { workflow: doc })
      ).json()) as Record<string, any>;
      expect(done.status).toBe('completed');
      const s = await openStream(`${small.url}/executions/${done.executionId}/events`, {
        'last-event-id': '3',
      });
      const frames = await readUntil(s, () => false);
      expect(s.ended).toBe(true);
      expect(Number(frames[0]!.id)).toBeGreaterThan(4);
      expect(frames.at(-1)!.event).toBe('execution.completed');
    } finally {
      await small.stop();
    }
  });
});

describe('GET /events', () => {
  it('streams the events of every execution and resumes from the buffer with Last-Event-ID', async () => {
    const s = await openStream(`${t.url}/events`);
    const first = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('feed-one') })
    ).json()) as Record<string, any>;
    const seen = await readUntil(
      s,
      (f) => f.event === 'execution.completed' && f.data.executionId === first.executionId,
    );
    s.close();
    expect(seen.every((f) => /^[0-9a-f]+-\d+$/.test(f.id!))).toBe(true);
    const lastId = seen.at(-1)!.id!;

    const second = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('feed-two') })
    ).json()) as Record<string, any>;
    const resumed = await openStream(`${t.url}/events`, { 'last-event-id': lastId });
    const missed = await readUntil(
      resumed,
      (f) => f.event === 'execution.completed' && f.data.executionId === second.executionId,
    );
    resumed.close();
    const counter = (id: string) => Number(id.split('-')[1]);
    expect(counter(missed[0]!.id!)).toBe(counter(lastId) + 1);
    expect(missed.map((f) => counter(f.id!))).toEqual(missed.map((_, i) => counter(lastId) + 1 + i));
    expect(missed.some((f) => f.data.executionId === first.executionId)).toBe(false);
    expect(missed.filter((f) => f.data.executionId === second.executionId).map((f) => f.data.seq)).toEqual(
      await journalSeqs(second.executionId),
    );
  });

  it('says so with a gap event when Last-Event-ID is from another server process', async () => {
    const s = await openStream(`${t.url}/events`, { 'last-event-id': 'deadbeef-12' });
    const f = await s.next();
    s.close();
    expect(f!.event).toBe('gap');
    expect(f!.id).toBeUndefined();
  });

  it('filters by workflowId', async () => {
    const s = await openStream(`${t.url}/events?workflowId=feed-wanted`);
    await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('feed-unwanted') });
    const wanted = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('feed-wanted') })
    ).json()) as Record<string, any>;
    const frames = await readUntil(s, (f) => f.event === 'execution.completed');
    s.close();
    expect(
      frames.every((f) => f.data.workflowId === 'feed-wanted' && f.data.executionId === wanted.executionId),
    ).toBe(true);
    await waitTerminal(t.url, wanted.executionId);
  });
});

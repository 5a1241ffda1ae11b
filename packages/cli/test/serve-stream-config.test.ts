/**
 * `orchestr8 serve` takes its streams from the project config (`streams.files`, `.nats`,
 * `.grace`) as from its `--stream*` flags; the flags win, paths are relative to the config
 * file, and a bad value is refused naming its key.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNatsTransport } from '@orchestr8/streams';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNats } from '../../streams/test/use-nats.js';
import { assertBuilt, cli, serve, useTempRoot } from './fixtures/harness.js';

const DOC = join(import.meta.dirname, 'fixtures/streams/match.stream.yaml');
const tmp = useTempRoot('o8-stream-config-');

beforeAll(() => {
  assertBuilt();
});

/** A project whose config names `streams`; commands run in a subdirectory of it. */
function project(streams: unknown): { dir: string; sub: string } {
  const dir = tmp();
  mkdirSync(join(dir, 'streams'));
  copyFileSync(DOC, join(dir, 'streams/match.stream.yaml'));
  writeFileSync(join(dir, 'orchestr8.config.json'), JSON.stringify({ streams }));
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  return { dir, sub };
}

/** Posts one goal to the match stream, `agoMs` before now: a late event unless within the grace. */
async function postGoal(url: string, id: string, agoMs: number): Promise<unknown> {
  const r = await fetch(`${url}/streams/match/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      { id, ts: Date.now() - agoMs, kind: 'goal', payload: { team: 'home', player: 'ada' } },
    ]),
  });
  expect(r.status).toBe(202);
  return r.json();
}

describe('serve with streams in the config', () => {
  it('processes the streams of streams.files (relative to the config file) with streams.grace', async () => {
    const { sub } = project({ files: ['./streams/match.stream.yaml'], grace: '30s' });
    const served = await serve(['--port', '0'], { cwd: sub });
    try {
      // Two seconds late: taken only thanks to the config's 30s grace (the default is 0ms).
      expect(await postGoal(served.url, 'g1', 2000)).toEqual({ accepted: 1, duplicates: 0, late: 0 });
      const metrics = await (await fetch(`${served.url}/metrics`)).text();
      expect(metrics).toContain('orchestr8_stream_events_total{stream="match"} 1');
    } finally {
      expect(await served.stop()).toBe(0);
    }
  }, 120_000);

  it('lets --stream and --stream-grace win over streams.files and streams.grace', async () => {
    // The config names a document that does not exist: the flag's list replaces it.
    const { sub } = project({ files: ['./streams/missing.stream.yaml'], grace: '30s' });
    const served = await serve(['--port', '0', '--stream', DOC, '--stream-grace', '0ms'], { cwd: sub });
    try {
      expect(await postGoal(served.url, 'g1', 2000)).toEqual({
        accepted: 0,
        duplicates: 0,
        late: 1,
        lateIds: ['g1'],
      });
    } finally {
      expect(await served.stop()).toBe(0);
    }
  }, 120_000);

  describe('on NATS JetStream', () => {
    const nats = useNats();

    it('logs the events of a config stream on the JetStream of streams.nats', async () => {
      const { sub } = project({ files: ['./streams/match.stream.yaml'], nats: nats.url, grace: '30s' });
      const served = await serve(['--port', '0'], { cwd: sub });
      try {
        expect(await postGoal(served.url, 'n1', 0)).toEqual({ accepted: 1, duplicates: 0, late: 0 });
      } finally {
        expect(await served.stop()).toBe(0);
      }
      const transport = await createNatsTransport({
        streamId: 'match',
        servers: nats.url,
        consumer: 'reader',
      });
      try {
        expect((await transport.readEvents()).map((e) => (e as { id: string }).id)).toEqual(['n1']);
      } finally {
        await transport.close();
      }
    }, 120_000);
  });

  it('refuses a bad streams value naming the key, at serve and at config set', async () => {
    const { sub } = project({ files: ['./streams/match.stream.yaml'], grace: 'soon' });
    const r = await cli(['serve', '--port', '0'], { cwd: sub });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('streams.grace must be a duration such as "200ms" or "1s", got "soon"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Longer than the longest timer, like a slice or a crew timeout: refused, by key and by flag.
    const long = await cli(['serve', '--port', '0'], {
      cwd: project({ files: ['./streams/match.stream.yaml'], grace: '25d' }).sub,
    });
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('streams.grace must be at most 24 days (2147483647 ms), got "25d"');
    for (const [value, message] of [
      ['25d', '--stream-grace must be at most 24 days (2147483647 ms), got "25d"'],
      ['soon', '--stream-grace must be a duration such as "200ms" or "1s", got "soon"'],
    ]) {
      const flag = await cli(['serve', '--port', '0', '--stream', DOC, '--stream-grace', value!], {
        cwd: project({}).sub,
      });
      expect(flag.code).toBe(2);
      expect(flag.stderr).toContain(message);
      expect(flag.stderr).not.toMatch(/\n\s+at /);
    }

    const files = await cli(['serve', '--port', '0'], {
      cwd: project({ files: './streams/match.stream.yaml' }).sub,
    });
    expect(files.code).toBe(2);
    expect(files.stderr).toContain('streams.files must be a list of stream document paths');

    const missing = await cli(['serve', '--port', '0'], {
      cwd: project({ files: ['./streams/missing.stream.yaml'] }).sub,
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: config streams\.files: \S+missing\.stream\.yaml/m);

    const unknown = await cli(['serve', '--port', '0'], { cwd: project({ file: [] }).sub });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown field "streams.file" (expected files, nats, grace)');
  }, 120_000);

  it('config set/get/list read and write streams.files, streams.nats and streams.grace', async () => {
    const dir = tmp();
    expect(
      (await cli(['config', 'set', 'streams.files', './a.stream.yaml,./b.stream.yaml'], { cwd: dir })).code,
    ).toBe(0);
    expect((await cli(['config', 'set', 'streams.grace', '1.5s'], { cwd: dir })).code).toBe(0);
    expect((await cli(['config', 'set', 'streams.nats', 'nats://127.0.0.1:4222'], { cwd: dir })).code).toBe(
      0,
    );
    const bad = await cli(['config', 'set', 'streams.grace', 'soon'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('streams.grace must be a duration');
    const long = await cli(['config', 'set', 'streams.grace', '25d'], { cwd: dir });
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('streams.grace must be at most 24 days');
    const get = await cli(['config', 'get', 'streams.files', '--json'], { cwd: dir });
    expect(JSON.parse(get.stdout)).toEqual(['./a.stream.yaml', './b.stream.yaml']);
    const list = await cli(['config', 'list', '--json'], { cwd: dir });
    expect(JSON.parse(list.stdout)).toMatchObject({
      'streams.files': ['./a.stream.yaml', './b.stream.yaml'],
      'streams.grace': '1.5s',
      'streams.nats': 'nats://127.0.0.1:4222',
    });
  }, 120_000);
});

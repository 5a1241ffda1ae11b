/**
 * `stream run` that fails after opening its PostgreSQL store closes it: the process exits
 * with the command's error and exit code at once, instead of lingering on the open pool
 * (and the engine's timers) long after the error was printed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type PgServer, startPostgres } from '../../store-postgres/test/pg-server.js';
import { type NatsServer, startNats } from '../../streams/test/nats-server.js';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

const DOC = join(import.meta.dirname, 'fixtures/streams/match.stream.yaml');
const tmp = useTempRoot('o8-stream-store-close-');
/** Far below the pool's 30 s idle timeout: the command's store must be closed, not left to time out. */
const EXIT_WITHIN_MS = 10_000;
/**
 * A crew workflow that loads (the document checks pass) but does not compile on the engine:
 * its agent is not registered. The stream fails as it starts, after opening what it uses.
 */
const BROKEN = 'version: "1.0.0"\nmetadata: { id: broken }\nsteps:\n  - id: s\n    agent: "@nope/missing"\n';

let server: PgServer;
let nats: NatsServer;
let work: string;
beforeAll(async () => {
  assertBuilt();
  work = tmp();
  [server, nats] = await Promise.all([startPostgres(), startNats()]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), nats?.stop()]);
});

describe('orchestr8 stream run with a PostgreSQL store that fails early', () => {
  it('a missing --events file: exit 2 with the error, within 10 s', async () => {
    const missing = join(work, 'missing.ndjson');
    const r = await cli(['stream', 'run', DOC, '--events', missing, '--store', server.freshSchemaUrl()], {
      cwd: work,
      timeoutMs: EXIT_WITHIN_MS,
    });
    expect(r.stderr).toBe(`error: no such file: ${missing}\n`);
    expect(r.code).toBe(2);
  }, 30_000);

  it('NATS unreachable: exit 1 with the connection error, within 10 s', async () => {
    const nats = `nats://127.0.0.1:${await freePort()}`;
    const r = await cli(['stream', 'run', DOC, '--nats', nats, '--store', server.freshSchemaUrl()], {
      cwd: work,
      timeoutMs: EXIT_WITHIN_MS,
    });
    expect(r.stderr).toContain(`error NETWORK: cannot connect to NATS at ${nats}`);
    expect(r.code).toBe(1);
  }, 30_000);

  it('a crew whose workflow does not compile, on NATS: exit 2 with the error, within 10 s (the NATS connection closed too)', async () => {
    // The processor fails as it starts, after the transport connected.
    writeFileSync(join(work, 'broken.yaml'), BROKEN);
    const doc = join(work, 'broken-crew.stream.yaml');
    writeFileSync(
      doc,
      'version: "1.0.0"\nid: brokencrew\nslice: 500ms\nevents:\n  goal: {}\ncrews:\n  - id: scorer\n    on: [goal]\n    workflow: broken\n',
    );
    const r = await cli(['stream', 'run', doc, '--nats', nats.url, '--store', server.freshSchemaUrl()], {
      cwd: work,
      timeoutMs: EXIT_WITHIN_MS,
    });
    expect(r.stderr).toContain(
      'error VALIDATION: workflow is invalid: 5:12 error E_UNKNOWN_AGENT step "s" uses agent "@nope/missing", which is not registered',
    );
    expect(r.code).toBe(2);
  }, 30_000);

  it('stream replay whose crew workflow does not compile: exit 2 with the error, within 10 s', async () => {
    writeFileSync(join(work, 'broken.yaml'), BROKEN);
    const doc = join(work, 'broken-replay.stream.yaml');
    writeFileSync(
      doc,
      'version: "1.0.0"\nid: brokenreplay\nslice: 500ms\nevents:\n  goal: {}\ncrews:\n  - id: scorer\n    on: [goal]\n    workflow: broken\n',
    );
    const empty = join(work, 'empty.ndjson');
    writeFileSync(empty, '');
    const r = await cli(
      ['stream', 'replay', doc, '--events', empty, '--actions', empty, '--store', server.freshSchemaUrl()],
      { cwd: work, timeoutMs: EXIT_WITHIN_MS },
    );
    expect(r.stderr).toContain(
      'error VALIDATION: workflow is invalid: 5:12 error E_UNKNOWN_AGENT step "s" uses agent "@nope/missing", which is not registered',
    );
    expect(r.code).toBe(2);
  }, 30_000);
});

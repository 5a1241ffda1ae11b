/**
 * A real PostgreSQL 15 (Debian's `postgresql` package) for tests and benchmarks: started
 * on a free port in a temp directory, stopped and removed afterwards. Nothing is skipped:
 * without the binaries this throws, saying how to install them.
 *
 * `initdb` runs once per machine into a template directory that later servers copy (about
 * 0.1 s instead of 1.5 s). Tests run with fsync off (a test server needs no crash safety);
 * benchmarks pass `durable: true` for the settings a real deployment has.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PgServer {
  readonly port: number;
  readonly dir: string;
  /** `postgres://postgres@127.0.0.1:PORT/postgres`, or another database of this server. */
  url(database?: string): string;
  /** A URL whose `schema` parameter names a fresh, unused schema (`t_1`, `t_2`, ...). */
  freshSchemaUrl(): string;
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'PostgreSQL 15 is required for these tests and was not found. Install it with ' +
  '`apt-get update && apt-get install -y postgresql` (Debian 12), or set PG_BIN to the directory holding initdb and postgres.';

export function postgresBinDir(): string {
  const candidates = [process.env.PG_BIN, '/usr/lib/postgresql/15/bin'].filter((x): x is string => !!x);
  for (const dir of candidates)
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // not installed
  }
  throw new Error(INSTALL_HINT);
}

/** initdb refuses to run as root: servers then run as the `postgres` user Debian's package creates. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error(`running as root, but there is no "postgres" user. ${INSTALL_HINT}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function chownTree(path: string, user: { uid: number; gid: number } | undefined): void {
  if (!user) return;
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, path]);
}

function templateDir(bin: string, user: { uid: number; gid: number } | undefined): string {
  const version = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  const key = version.replace(/[^0-9.]/g, '');
  const dir = join(tmpdir(), `orchestr8-pg-template-${key}-${user ? 'pg' : process.getuid?.()}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const work = mkdtempSync(join(tmpdir(), 'orchestr8-pg-initdb-'));
  chownTree(work, user);
  const data = join(work, 'data');
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '-N'],
    { stdio: 'pipe', ...(user ?? {}) },
  );
  try {
    renameSync(data, dir);
  } catch {
    // another process made it first
  }
  rmSync(work, { recursive: true, force: true });
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGQUIT');
});

export interface StartPostgresOptions {
  durable?: boolean;
  maxConnections?: number;
  settings?: readonly string[];
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PgServer> {
  const bin = postgresBinDir();
  const user = serverUser();
  const template = templateDir(bin, user);
  const dir = mkdtempSync(join(tmpdir(), 'orchestr8-pg-'));
  const data = join(dir, 'data');
  cpSync(template, data, { recursive: true });
  chownTree(dir, user);
  const port = await freePort();
  const settings = [
    `port=${port}`,
    'listen_addresses=127.0.0.1',
    `unix_socket_directories=${dir}`,
    `max_connections=${options.maxConnections ?? 200}`,
    'shared_buffers=128MB',
    ...(options.durable ? [] : ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off']),
    ...(options.settings ?? []),
  ];
  const child = spawn(join(bin, 'postgres'), ['-D', data, ...settings.flatMap((s) => ['-c', s])], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(user ?? {}),
  });
  live.add(child);
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (log.length < 20_000) log += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`PostgreSQL failed to start:\n${log}`);
    const client = new pg.Client({ connectionString: url() });
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL did not accept connections within 30 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let schemas = 0;
  return {
    port,
    dir,
    url,
    freshSchemaUrl: () => `${url()}?schema=t_${++schemas}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT'); // immediate shutdown: the data directory is thrown away
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

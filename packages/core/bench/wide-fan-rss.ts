/**
 * W2 at 10,000 parallel steps: peak RSS as a program sees it. Each library runs in a fresh
 * `node` process (no TypeScript loader, no bench harness) that imports only that library:
 * orchestr8 from the built packages (dist: plain node does not use the `source` export
 * condition), async's auto, or the hand-written Promise DAG. The children are in wide-fan-rss/.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');

export interface WideFanRss {
  /** RSS once the library is imported, before the run (MB). */
  loadedRssMb: number;
  /** The kernel's high-water mark for the process (process.resourceUsage().maxRSS), MB. */
  maxRssMb: number;
  /** The highest 5 ms sample of RSS during the run, MB (misses stretches that never yield). */
  sampledPeakRssMb: number;
  heapUsedMb: number;
  ms: number;
  /** orchestr8 only: RSS once the document is validated and compiled, before the run (MB). */
  compiledRssMb?: number;
}

export type WideFanResult = WideFanRss | { error: string };

export interface WideFanRssReport {
  orchestr8: WideFanResult;
  'async.auto': WideFanResult;
  'raw Promise DAG': WideFanResult;
  /** Set when the built packages were older than their sources and were rebuilt first. */
  rebuilt?: boolean;
}

/** The packages the orchestr8 child loads from dist. */
const BUILT = ['common', 'resilience', 'schema', 'core'];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** True when some package's dist is missing or older than its src (the child would measure old code). */
function distStale(): boolean {
  return BUILT.some((name) => {
    const pkg = join(root, 'packages', name);
    try {
      return statSync(join(pkg, 'dist/index.js')).mtimeMs < newestMtime(join(pkg, 'src'));
    } catch {
      return true;
    }
  });
}

function runChild(file: string): Promise<WideFanResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, 'wide-fan-rss', file)], {
      cwd: root,
      // Not the parent's NODE_OPTIONS (a --conditions=source there would load src via tsx).
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as WideFanRss);
      } catch {
        resolve({ error: `${file} exited ${signal ?? code}: ${(err || last).trim().split('\n')[0]}` });
      }
    });
  });
}

/**
 * Runs the three children (async.auto, the slowest, beside the other two one after another, so
 * no more than two processes share the machine), rebuilding the packages first if their dist
 * is older than their sources.
 */
export async function runWideFanRss(): Promise<WideFanRssReport> {
  let rebuilt: boolean | undefined;
  if (distStale()) {
    const build = spawnSync(
      'pnpm',
      ['-s', 'turbo', 'run', 'build', '--filter=@orchestr8/core', '--output-logs=errors-only'],
      { cwd: root, encoding: 'utf8' },
    );
    if (build.status !== 0) {
      const error = `building @orchestr8/core failed: ${(build.stderr || build.stdout).trim().split('\n')[0]}`;
      return { orchestr8: { error }, 'async.auto': { error }, 'raw Promise DAG': { error } };
    }
    rebuilt = true;
  }
  const auto = runChild('async-auto.mjs');
  const orchestr8 = await runChild('orchestr8.mjs');
  const plain = await runChild('plain.mjs');
  return {
    orchestr8,
    'async.auto': await auto,
    'raw Promise DAG': plain,
    ...(rebuilt ? { rebuilt } : {}),
  };
}

/** One labelled line: each library's peak and loaded RSS, orchestr8's peak as a ratio of each baseline. */
export function wideFanRssLine(r: WideFanRssReport): string {
  const fig = (x: WideFanResult) =>
    'error' in x
      ? `error: ${x.error}`
      : `peak ${x.maxRssMb.toFixed(0)} (sampled ${x.sampledPeakRssMb.toFixed(0)}), loaded ${x.loadedRssMb.toFixed(0)}${
          x.compiledRssMb === undefined ? '' : `, compiled ${x.compiledRssMb.toFixed(0)}`
        }`;
  const o8 = r.orchestr8;
  const ratio = (base: WideFanResult) =>
    'error' in o8 || 'error' in base ? 'n/a' : (o8.maxRssMb / base.maxRssMb).toFixed(2);
  return [
    `W2 fan of 10,000, RSS MB, plain node on the built packages, a fresh process per library${r.rebuilt ? ' (dist was stale: rebuilt first)' : ''}:`,
    `  orchestr8 ${fig(o8)} (target peak < 120)`,
    `  async.auto ${fig(r['async.auto'])}; orchestr8 peak / this ${ratio(r['async.auto'])}`,
    `  raw Promise DAG ${fig(r['raw Promise DAG'])}; orchestr8 peak / this ${ratio(r['raw Promise DAG'])}`,
  ].join('\n');
}

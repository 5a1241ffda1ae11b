/**
 * Why the engine keeps running executions in a LiveMap: a plain Map through which objects
 * come and go (set, later delete) makes them survive young-generation collections after they
 * are deleted. Each step here puts a small object graph (~2.5 KB) in the map and deletes the
 * one put `live` steps earlier; the sampling heap profiler counts the bytes that survived a
 * young collection (objects the young collection freed are left out).
 */
import { Session } from 'node:inspector/promises';
import { LiveMap } from '../src/live-map.js';
import { childSide, inChild } from './in-child.js';

type Payload = { list: { i: number; s: { v: number } }[] };

function churn(map: Map<string, Payload> | LiveMap<string, Payload>, live: number) {
  let id = 0;
  const queue: string[] = [];
  let head = 0;
  return () => {
    const k = `e${++id}`;
    map.set(k, { list: Array.from({ length: 40 }, (_, i) => ({ i, s: { v: i } })) });
    queue.push(k);
    if (queue.length - head > live) map.delete(queue[head++]!);
  };
}

type Kind = 'Map' | 'LiveMap';

/** Bytes per step that survived a young collection, for one kind of map, in this process. */
async function measureChurn(kind: Kind, live: number, steps: number): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    const step = churn(kind === 'Map' ? new Map() : new LiveMap(), live);
    for (let i = 0; i < steps; i++) step(); // warm-up: the map's tables reach the old generation
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 512,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: false,
    });
    for (let i = 0; i < steps; i++) step();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    let bytes = 0;
    const walk = (n: { selfSize: number; children: (typeof n)[] }) => {
      bytes += n.selfSize;
      for (const c of n.children) walk(c);
    };
    walk(profile.head);
    return bytes / steps;
  } finally {
    session.disconnect();
  }
}

/**
 * Each kind in fresh processes, alternated (`rounds` each; medians): what survives depends on
 * what the process did before (measured twice in one process, the second plain Map kept
 * little), and a user's process is the first kind.
 */
export async function runMapChurnBench(
  live = 100,
  steps = 300_000,
  rounds = 3,
): Promise<Record<Kind, number>> {
  const runs: Record<Kind, number[]> = { Map: [], LiveMap: [] };
  for (let r = 0; r < rounds; r++)
    for (const kind of ['Map', 'LiveMap'] as const) {
      runs[kind].push(
        await inChild<number>(
          import.meta.url,
          ['--map-churn', kind, String(live), String(steps)],
          `map churn (${kind})`,
        ),
      );
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return { Map: median(runs.Map), LiveMap: median(runs.LiveMap) };
}

// The child side of runMapChurnBench.
await childSide('--map-churn', ([kind, live, steps]) =>
  measureChurn(kind as Kind, Number(live), Number(steps)),
);

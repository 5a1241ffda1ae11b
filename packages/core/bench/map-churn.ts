/**
 * Why the engine keeps running executions in a LiveMap: a plain Map through which objects
 * come and go (set, later delete) makes them survive young-generation collections after they
 * are deleted. Each step here puts a small object graph (~2.5 KB) in the map and deletes the
 * one put `live` steps earlier; the sampling heap profiler counts the bytes that survived a
 * young collection (objects the young collection freed are left out).
 */
import { Session } from 'node:inspector/promises';
import { LiveMap } from '../src/live-map.js';

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

/** Bytes per step that survived a young collection, for a plain Map and for a LiveMap. */
export async function runMapChurnBench(
  live = 100,
  steps = 300_000,
): Promise<Record<'Map' | 'LiveMap', number>> {
  const out = { Map: 0, LiveMap: 0 };
  const session = new Session();
  session.connect();
  try {
    for (const kind of ['Map', 'LiveMap'] as const) {
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
      out[kind] = bytes / steps;
    }
  } finally {
    session.disconnect();
  }
  return out;
}

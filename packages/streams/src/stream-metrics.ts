/**
 * Prometheus metrics of stream processors, registered in the host's registry (the one
 * `@orchestr8/observability`'s `createMetrics` serves at `GET /metrics`). Counters and
 * gauges are read from each processor's status at scrape time; slice durations are
 * observed as slices commit.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { StreamProcessor } from './processor.js';
import type { SliceOutcome, StreamErrorRecord } from './slice-runner.js';
import type { SliceRecord } from './transport.js';

export interface StreamMetrics {
  /** Reads this processor's figures at every scrape. */
  track(stream: string, processor: Pick<StreamProcessor, 'status'>): void;
  /** Observes one committed slice. */
  slice(stream: string, outcome: SliceOutcome, record: SliceRecord): void;
  /** Counts one error sent to the error sink. */
  error(error: StreamErrorRecord): void;
}

/** Seconds: slices are typically 100 ms to a few seconds. */
const SLICE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createStreamMetrics(options: { registry: Registry; prefix?: string }): StreamMetrics {
  const p = options.prefix ?? 'orchestr8_';
  const registers = [options.registry];
  const tracked = new Map<string, Pick<StreamProcessor, 'status'>>();
  /** Counters are read as totals from each status; prom-client counters only go up by deltas. */
  const last = new Map<Counter<string>, Map<string, number>>();
  const addUpTo = (c: Counter<string>, labels: Record<string, string>, total: number) => {
    const seen = last.get(c) ?? new Map<string, number>();
    last.set(c, seen);
    const key = JSON.stringify(labels);
    const delta = total - (seen.get(key) ?? 0);
    if (delta > 0) c.inc(labels, delta);
    seen.set(key, total);
  };
  const each = (fn: (stream: string, s: ReturnType<StreamProcessor['status']>) => void) => {
    for (const [stream, processor] of tracked) fn(stream, processor.status());
  };

  const eventsIn = new Counter({
    name: `${p}stream_events_total`,
    help: 'Valid events taken into a slice, by stream',
    labelNames: ['stream'],
    registers,
    collect() {
      each((stream, s) => addUpTo(eventsIn, { stream }, s.eventsIn));
    },
  });
  const refused = new Counter({
    name: `${p}stream_events_refused_total`,
    help: 'Events refused by the processor (invalid, late, over the per-slice limit), by stream and reason',
    labelNames: ['stream', 'reason'],
    registers,
  });
  const actionsOut = new Counter({
    name: `${p}stream_actions_total`,
    help: 'Actions published, by stream',
    labelNames: ['stream'],
    registers,
    collect() {
      each((stream, s) => addUpTo(actionsOut, { stream }, s.actionsOut));
    },
  });
  const slices = new Counter({
    name: `${p}stream_slices_total`,
    help: 'Slices by outcome: processed (committed), merged (into a later one, backlog: merge), skipped (dropped, backlog: latest)',
    labelNames: ['stream', 'outcome'],
    registers,
    collect() {
      each((stream, s) => {
        addUpTo(slices, { stream, outcome: 'processed' }, s.slicesProcessed);
        addUpTo(slices, { stream, outcome: 'merged' }, s.slicesMerged);
        addUpTo(slices, { stream, outcome: 'skipped' }, s.slicesSkipped);
      });
    },
  });
  const crewRuns = new Counter({
    name: `${p}stream_crew_runs_total`,
    help: 'Crew runs by stream, crew and status (completed, failed)',
    labelNames: ['stream', 'crew', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: `${p}stream_slice_duration_seconds`,
    help: "Time to run a slice's crews and merge their writes, by stream",
    labelNames: ['stream'],
    buckets: SLICE_BUCKETS,
    registers,
  });
  const lag = new Gauge({
    name: `${p}stream_lag_seconds`,
    help: "How far the last committed slice's end is behind the clock, by stream",
    labelNames: ['stream'],
    registers,
    collect() {
      each((stream, s) => lag.set({ stream }, s.lagMs / 1000));
    },
  });
  const backlog = new Gauge({
    name: `${p}stream_backlog_slices`,
    help: 'Closed slices waiting to be processed, by stream',
    labelNames: ['stream'],
    registers,
    collect() {
      each((stream, s) => backlog.set({ stream }, s.backlog));
    },
  });
  const committed = new Gauge({
    name: `${p}stream_committed_slice`,
    help: 'The last slice applied to the context (-1: none), by stream',
    labelNames: ['stream'],
    registers,
    collect() {
      each((stream, s) => committed.set({ stream }, s.committedSlice));
    },
  });

  return {
    track(stream, processor) {
      tracked.set(stream, processor);
    },
    slice(stream, outcome) {
      duration.observe({ stream }, outcome.durationMs / 1000);
      for (const run of outcome.crews)
        if (run.status !== 'skipped') crewRuns.inc({ stream, crew: run.crew, status: run.status });
    },
    error(e) {
      if (e.kind === 'invalid-event' || e.kind === 'late-event' || e.kind === 'too-many-events')
        refused.inc({ stream: e.stream, reason: e.kind });
    },
  };
}

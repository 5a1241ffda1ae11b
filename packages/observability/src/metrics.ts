import { type Engine, type EngineEvent, type EngineObserver, EventType } from '@orchestr8/core';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { type CounterChild, FastCounter, FastHistogram, type HistogramChild } from './series.js';

export interface MetricsOptions {
  /** Defaults to a new private registry (never prom-client's global one). */
  registry?: Registry;
  /** Metric name prefix. Default `orchestr8_`. */
  prefix?: string;
  /** Also collect prom-client's process and Node.js metrics (CPU, memory, event loop lag, GC). */
  defaultMetrics?: boolean;
}

export interface Metrics {
  /** Pass to `createEngine({ observers: [metrics.observer] })`. */
  readonly observer: EngineObserver;
  readonly registry: Registry;
  /**
   * Reads the engine's live figures (in-flight executions and steps, event-bus drops,
   * circuit states) at scrape time, and counts its circuit transitions. Returns a function
   * that stops it.
   */
  collect(engine: Engine): () => void;
  /** The Prometheus text exposition, as `GET /metrics` serves it. */
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** Seconds. Steps are often milliseconds (transforms) and sometimes minutes (LLM calls, shell). */
const STEP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const EXECUTION_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const STORE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Seconds from a wait's wake (timer due, event, decision) to its step taking it. */
const WAKE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const CIRCUIT_STATES = ['closed', 'open', 'halfOpen'] as const;

/** The `agent` label of steps that never started (skipped, or cancelled before they ran). */
export const NO_AGENT = 'none';

interface StepStart {
  series: AgentSeries;
  elapsedMs: number;
}

/** The children of one agent's series, made as they are first needed and then held. */
class AgentSeries {
  private readonly finished: Partial<Record<string, [CounterChild, HistogramChild]>> = {};
  readonly retries: CounterChild;
  private timeoutsChild: CounterChild | undefined;
  private fallbacksChild: CounterChild | undefined;

  constructor(
    readonly agent: string,
    private readonly m: {
      stepsFinished: FastCounter;
      stepDuration: FastHistogram;
      retries: FastCounter;
      stepTimeouts: FastCounter;
      fallbacks: FastCounter;
    },
  ) {
    this.retries = m.retries.labels(agent);
  }

  finish(status: string): [CounterChild, HistogramChild] {
    let f = this.finished[status];
    if (f === undefined) {
      f = [this.m.stepsFinished.labels(this.agent, status), this.m.stepDuration.labels(this.agent, status)];
      this.finished[status] = f;
    }
    return f;
  }

  get timeouts(): CounterChild {
    this.timeoutsChild ??= this.m.stepTimeouts.labels(this.agent);
    return this.timeoutsChild;
  }

  get fallbacks(): CounterChild {
    this.fallbacksChild ??= this.m.fallbacks.labels(this.agent);
    return this.fallbacksChild;
  }
}

/**
 * Prometheus metrics for one process: an `EngineObserver` that counts what the engine
 * reports, plus scrape-time readings of `engine.stats()` and the circuit breakers.
 *
 * @example
 * const metrics = createMetrics();
 * const engine = createEngine({ registry, observers: [metrics.observer] });
 * metrics.collect(engine);
 * createServer({ engine, registry, metrics });
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  const p = options.prefix ?? 'orchestr8_';
  const registers = [registry];
  const engines = new Set<Engine>();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const counter = (name: string, help: string, labelNames: readonly string[]) =>
    new FastCounter(`${p}${name}`, help, labelNames, registry);
  const histogram = (name: string, help: string, labelNames: readonly string[], buckets: number[]) =>
    new FastHistogram(`${p}${name}`, help, labelNames, buckets, registry);

  const executionsStarted = counter('executions_started_total', 'Executions started in this process', [
    'workflow',
  ]);
  const executionsResumed = counter(
    'executions_resumed_total',
    'Executions resumed in this process (left running by a process that stopped)',
    ['workflow'],
  );
  const executionsFinished = counter(
    'executions_total',
    'Executions finished, by final status (completed, failed, cancelled)',
    ['workflow', 'status'],
  );
  const executionDuration = histogram(
    'execution_duration_seconds',
    'Duration of finished executions (since started or resumed in this process)',
    ['workflow', 'status'],
    EXECUTION_BUCKETS,
  );
  const executionTimeouts = counter(
    'execution_timeouts_total',
    'Executions stopped by their global timeout',
    ['workflow'],
  );
  const journalDropped = counter(
    'journal_entries_dropped_total',
    "Journal entries dropped by executions' journal caps",
    ['workflow'],
  );
  const stepsFinished = counter(
    'steps_total',
    `Steps finished, by agent and final status (completed, failed, skipped, cancelled); agent="${NO_AGENT}" for steps that never started`,
    ['agent', 'status'],
  );
  const stepDuration = histogram(
    'step_duration_seconds',
    'Duration of steps that ran, all attempts and backoff included',
    ['agent', 'status'],
    STEP_BUCKETS,
  );
  const retries = counter('step_retries_total', 'Retries scheduled after a failed attempt', ['agent']);
  const stepTimeouts = counter('step_timeouts_total', 'Attempts that exceeded their timeout', ['agent']);
  const fallbacks = counter('step_fallbacks_total', 'Failed steps handed to their fallback step', ['agent']);
  const circuitRejections = counter('circuit_rejections_total', 'Calls refused by an open circuit', ['key']);
  const circuitTransitions = counter(
    'circuit_transitions_total',
    'Circuit state changes, by the state entered',
    ['key', 'to'],
  );
  const storeWriteDuration = histogram(
    'store_write_duration_seconds',
    'Latency of group-commit write batches to the store',
    [],
    STORE_BUCKETS,
  ).labels();
  const storeWrites = counter(
    'store_writes_total',
    'Writes committed to the store (each batch holds one or more)',
    [],
  ).labels();

  const executionsParked = counter(
    'executions_parked_total',
    'Executions that left memory to wait (status waiting: no memory or concurrency slot held)',
    ['workflow'],
  );
  const waitsWoken = counter(
    'waits_woken_total',
    'Wait steps that took their outcome, by wait kind and outcome (fired, event, approved, rejected, timed_out)',
    ['kind', 'outcome'],
  );
  const waitTimeouts = counter('wait_timeouts_total', 'Wait steps whose timeout passed first', ['kind']);
  const wakeLatency = histogram(
    'wait_wake_latency_seconds',
    'From the wake of a wait (its timer due, its event, its decision) to its step taking the outcome',
    ['kind'],
    WAKE_BUCKETS,
  );
  const waitTaken = (e: EngineEvent, outcome: string) => {
    const d = e.data as { kind?: unknown; wokenAt?: unknown } | undefined;
    const kind = typeof d?.kind === 'string' ? d.kind : 'approval';
    waitsWoken.inc(kind, outcome);
    if (outcome === 'timed_out') waitTimeouts.inc(kind);
    const at = typeof d?.wokenAt === 'string' ? Date.parse(d.wokenAt) : Number.NaN;
    if (Number.isFinite(at)) wakeLatency.labels(kind).observe(Math.max(0, e.ts - at) / 1000);
  };

  const agents = new Map<string, AgentSeries>();
  const agentSeries = (agent: string) => {
    let a = agents.get(agent);
    if (a === undefined) {
      a = new AgentSeries(agent, { stepsFinished, stepDuration, retries, stepTimeouts, fallbacks });
      agents.set(agent, a);
    }
    return a;
  };
  const noAgent = agentSeries(NO_AGENT);

  const sumStats = (pick: (s: ReturnType<Engine['stats']>) => number) => {
    let total = 0;
    for (const e of engines) total += pick(e.stats());
    return total;
  };
  new Gauge({
    name: `${p}executions_in_flight`,
    help: 'Executions running in this process',
    registers,
    collect() {
      this.set(sumStats((s) => s.executions));
    },
  });
  new Gauge({
    name: `${p}steps_in_flight`,
    help: 'Steps running in this process',
    registers,
    collect() {
      this.set(sumStats((s) => s.runningSteps));
    },
  });
  new Counter({
    name: `${p}events_dropped_total`,
    help: 'Events dropped by event-bus subscribers that fell behind (live views, SSE streams)',
    registers,
    collect() {
      this.reset();
      this.inc(sumStats((s) => s.eventsDropped));
    },
  });
  new Gauge({
    name: `${p}circuit_state`,
    help: 'Circuit breaker state per key: 1 for the current state (closed, open, halfOpen), 0 for the others',
    labelNames: ['key', 'state'],
    registers,
    collect() {
      this.reset();
      for (const e of engines) {
        for (const snap of e.breakers.snapshot()) {
          for (const state of CIRCUIT_STATES)
            this.set({ key: snap.key, state }, snap.state === state ? 1 : 0);
        }
      }
    },
  });

  // executionId -> stepId -> what step.started said; emptied as steps and executions finish.
  const running = new Map<string, Map<string, StepStart>>();
  const seriesOf = (e: EngineEvent): AgentSeries =>
    (e.stepId !== undefined ? running.get(e.executionId)?.get(e.stepId)?.series : undefined) ?? noAgent;

  const stepFinished = (e: EngineEvent, status: string) => {
    const steps = running.get(e.executionId);
    const start = e.stepId !== undefined ? steps?.get(e.stepId) : undefined;
    const [count, duration] = (start?.series ?? noAgent).finish(status);
    count.value++;
    if (start !== undefined) {
      const ms = numberField(e.data, 'durationMs') ?? e.elapsedMs - start.elapsedMs;
      duration.observe(Math.max(0, ms) / 1000);
      steps!.delete(e.stepId!);
      if (steps!.size === 0) running.delete(e.executionId);
    }
  };

  const executionFinished = (e: EngineEvent, status: string) => {
    running.delete(e.executionId);
    const workflow = e.workflowId;
    executionsFinished.inc(workflow, status);
    const ms = numberField(e.data, 'durationMs');
    if (ms !== undefined) executionDuration.labels(workflow, status).observe(ms / 1000);
    const dropped = numberField(e.data, 'journalDropped');
    if (dropped !== undefined && dropped > 0) journalDropped.labels(workflow).value += dropped;
  };

  const observer: EngineObserver = {
    onEvent(e) {
      switch (e.type) {
        case EventType.stepStarted: {
          if (e.stepId === undefined) return;
          const agent = (e.data as { agent?: unknown } | undefined)?.agent;
          let steps = running.get(e.executionId);
          if (steps === undefined) {
            steps = new Map();
            running.set(e.executionId, steps);
          }
          const series = typeof agent === 'string' ? agentSeries(agent) : noAgent;
          steps.set(e.stepId, { series, elapsedMs: e.elapsedMs });
          return;
        }
        case EventType.stepCompleted:
          return stepFinished(e, 'completed');
        case EventType.stepFailed:
          return stepFinished(e, 'failed');
        case EventType.stepSkipped:
          return stepFinished(e, 'skipped');
        case EventType.stepCancelled:
          return stepFinished(e, 'cancelled');
        case EventType.stepRetrying:
          seriesOf(e).retries.value++;
          return;
        case EventType.stepFallback:
          seriesOf(e).fallbacks.value++;
          return;
        case EventType.timeoutExceeded:
          if (e.stepId !== undefined) seriesOf(e).timeouts.value++;
          else executionTimeouts.inc(e.workflowId);
          return;
        case EventType.circuitRejected: {
          const key = (e.data as { key?: unknown } | undefined)?.key;
          circuitRejections.inc(typeof key === 'string' ? key : '');
          return;
        }
        case EventType.executionStarted:
          executionsStarted.inc(e.workflowId);
          return;
        case EventType.executionResumed:
          executionsResumed.inc(e.workflowId);
          return;
        case EventType.executionWaiting:
          executionsParked.inc(e.workflowId);
          // Its steps finish in the run that resumes it, maybe in another process.
          running.delete(e.executionId);
          return;
        case EventType.stepWoken: {
          const d = e.data as { events?: unknown } | undefined;
          return waitTaken(e, d?.events !== undefined ? 'event' : 'fired');
        }
        case EventType.waitTimedOut:
          return waitTaken(e, 'timed_out');
        case EventType.approvalDecided:
          return waitTaken(
            e,
            (e.data as { decision?: unknown } | undefined)?.decision === 'rejected' ? 'rejected' : 'approved',
          );
        case EventType.executionCompleted:
          return executionFinished(e, 'completed');
        case EventType.executionFailed:
          return executionFinished(e, 'failed');
        case EventType.executionCancelled:
          return executionFinished(e, 'cancelled');
        default:
          return;
      }
    },
    onStoreWrite(ms, writes) {
      storeWriteDuration.observe(ms / 1000);
      storeWrites.value += writes;
    },
  };

  return {
    observer,
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    collect(engine) {
      engines.add(engine);
      // Transitions are counted at the source: several steps may journal the same one.
      const off = engine.breakers.onTransition((t) => circuitTransitions.inc(t.key, t.to));
      return () => {
        off();
        engines.delete(engine);
      };
    },
  };
}

function numberField(data: unknown, name: string): number | undefined {
  const v = (data as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** What a worker is started with, and what it offers once started. */
import type {
  Agent,
  AgentLogger,
  AgentRegistry,
  Capabilities,
  EngineObserver,
  JournalLimits,
  StepTaskRunner,
} from '@orchestr8/core';
import type { CommitStats, PostgresStore } from '@orchestr8/store-postgres';

export const DEFAULT_QUEUE = 'default';

export interface WorkerOptions {
  store: PostgresStore;
  registry: AgentRegistry;
  /** Steps run at once (default 8). */
  concurrency?: number;
  /** The queues this worker takes steps from (default ["default"]). */
  queues?: readonly string[];
  /** How long a claimed step stays this worker's without a heartbeat (default 30 s). */
  leaseMs?: number;
  /** Default a third of the lease. */
  heartbeatMs?: number;
  /**
   * Steps that hold a slot less than this on average (ms) are short: the worker then leases
   * more steps than it has free slots and keeps the steps its commits release, as long as
   * they start within about this long; longer steps go to the queue for any worker. Default
   * 25; at most 60000.
   */
  shortStepMs?: number;
  /** How often an idle worker looks for work it was not notified of (default 1 s). */
  pollMs?: number;
  /** How often expired leases, cancel requests and global timeouts are handled (default 1 s). */
  sweepMs?: number;
  /**
   * A step still running after this long has its journal so far (`step.started`, retries)
   * published, and again every second: followers see long steps start. Default 200; 0: only
   * when they finish.
   */
  progressMs?: number;
  /** Default a random UUID. */
  id?: string;
  env?: Readonly<Record<string, string | undefined>>;
  secretEnv?: readonly string[];
  journal?: Partial<JournalLimits>;
  /** For agents (ctx.logger) and for the worker's own errors. */
  logger?: AgentLogger;
  remoteAgent?: (url: string, agentId: string) => Agent | undefined;
  /** Told of every journal entry of the steps this worker runs (e.g. for metrics). */
  observers?: readonly EngineObserver[];
  /** What documents may reach on this host (see EngineOptions.capabilities). */
  capabilities?: Capabilities;
  /**
   * How far back a wait step looks in the event inbox when it registers, in ms (default 5
   * minutes): an event sent just before the step waits is not lost.
   */
  eventLookBackMs?: number;
  /**
   * The longest sleep between looks for due timers, in ms (default 5000). Timers registered
   * on any worker are also announced to every worker, which fires them on time.
   */
  waitPollMs?: number;
}

export interface Worker {
  readonly id: string;
  /** Steps running now. */
  readonly running: number;
  /** Steps whose results this worker committed. */
  readonly stepsDone: number;
  readonly runner: StepTaskRunner;
  /**
   * How its commits went (one round trip, two, or under locks), how many claims it made and
   * how many rounds of commits (each one statement for many executions), and how many steps
   * it held for a slot and gave back to the queue unstarted.
   */
  stats(): CommitStats & { claims: number; rounds: number; givenBack: number };
  /**
   * Stops taking steps, lets running ones finish within `graceMs` (default 5000), then
   * returns the steps still running to the queue (another worker runs them again) and
   * deregisters.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Follows distributed executions from any process: resolves waiters when an execution
 * finishes, and republishes journal entries as engine events for local subscribers (SSE
 * streams of an API instance), woken by NOTIFY and backed by polling, since notifications
 * sent while the listening connection was down are lost.
 */
import { buildResult, type EngineEvent, type EventBus, type ExecutionResult } from '@orchestr8/core';
import { Channel, type PostgresStore, TaskQueue } from '@orchestr8/store-postgres';

type Notice = [executionId: string, firstSeq: number, lastSeq: number, finished: 0 | 1, workflowId: string];

const MAX_TRACKED = 10_000;

export class ExecutionWatcher {
  private readonly waiters = new Map<string, ((r: ExecutionResult) => void)[]>();
  /**
   * Per execution: the last seq published on the bus, and the chain of reads in progress.
   * Kept after the execution finishes (bounded, oldest first out): a notification that
   * arrives late must not publish its entries a second time.
   */
  private readonly published = new Map<string, { seq: number; chain: Promise<void> }>();
  private unlisten: (() => void) | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly queue: TaskQueue;
  /** Executions a notice said finished, checked together on the next turn. */
  private due: Set<string> | undefined;
  /** Executions notices said finished lately (bounded): a waiter that comes after its notice. */
  private readonly ended = new Set<string>();

  constructor(
    private readonly store: PostgresStore,
    private readonly bus: EventBus,
    private readonly pollMs = 1000,
  ) {
    this.queue = new TaskQueue(store);
  }

  async start(): Promise<void> {
    this.unlisten = await this.store.listen(
      Channel.exec,
      (payload) => this.onNotice(payload),
      () => this.poll(),
    );
    this.pollTimer = setInterval(() => this.poll(), this.pollMs);
    this.pollTimer.unref();
  }

  /**
   * The result once the execution is terminal. `fresh`: this process started it after the
   * watcher listened, so the notice of its end cannot have been missed (polls cover a
   * dropped connection) and there is nothing to check now.
   */
  wait(executionId: string, options: { fresh?: boolean } = {}): Promise<ExecutionResult> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(executionId) ?? [];
      list.push(resolve);
      this.waiters.set(executionId, list);
      // It may have finished before we listened (or before this waiter came).
      if (!options.fresh || this.ended.has(executionId)) this.check([executionId]).catch(reject);
    });
  }

  private onNotice(payload: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(payload) as Notice;
    } catch {
      return;
    }
    const [id, first, last, finished, workflowId] = notice;
    if (this.bus.hasSubscribers && last >= first) this.publish(id, workflowId, first - 1);
    if (finished) {
      this.ended.add(id);
      if (this.ended.size > MAX_TRACKED) this.ended.delete(this.ended.values().next().value!);
    }
    if (finished && this.waiters.has(id)) {
      if (!this.due) {
        this.due = new Set();
        setImmediate(() => {
          const ids = [...(this.due ?? [])];
          this.due = undefined;
          void this.check(ids).catch(() => {});
        });
      }
      this.due.add(id);
    }
  }

  /** Publishes the journal entries of an execution after `after`, in order, once each. */
  private publish(id: string, workflowId: string, after: number): void {
    let state = this.published.get(id);
    if (!state) {
      if (this.published.size >= MAX_TRACKED) {
        const oldest = this.published.keys().next().value;
        if (oldest !== undefined) this.published.delete(oldest);
      }
      state = { seq: after, chain: Promise.resolve() };
      this.published.set(id, state);
    }
    const s = state;
    s.chain = s.chain
      .then(async () => {
        if (this.closed) return;
        const entries = await this.store.readJournal(id, { afterSeq: s.seq });
        for (const e of entries) {
          s.seq = e.seq;
          const event: EngineEvent = { ...e, executionId: id, workflowId };
          this.bus.publish(event);
        }
      })
      .catch(() => {});
  }

  private poll(): void {
    if (this.closed || this.waiters.size === 0) return;
    void this.check([...this.waiters.keys()]).catch(() => {});
  }

  /** Resolves the waiters of those of `ids` that finished (or are gone), in one query. */
  private async check(ids: string[]): Promise<void> {
    if (this.closed || ids.length === 0) return;
    const found = await this.queue.outcomes(ids);
    for (const id of ids) {
      const o = found.get(id);
      if (o && !o.finished) continue;
      const list = this.waiters.get(id);
      if (!list) continue;
      this.waiters.delete(id);
      const result: ExecutionResult = o?.finished
        ? buildResult(o.finished.execution, o.finished.steps)
        : { executionId: id, workflowId: '', workflowVersion: '', status: 'failed', steps: {} };
      for (const resolve of list) resolve(result);
    }
  }

  close(): void {
    this.closed = true;
    this.unlisten?.();
    if (this.pollTimer) clearInterval(this.pollTimer);
  }
}

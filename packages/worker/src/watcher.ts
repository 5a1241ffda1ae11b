/**
 * Follows distributed executions from any process: resolves waiters when an execution
 * finishes, and republishes journal entries as engine events for local subscribers (SSE
 * streams of an API instance), woken by NOTIFY and backed by polling, since notifications
 * sent while the listening connection was down are lost.
 */
import {
  buildResult,
  type EngineEvent,
  type EventBus,
  type ExecutionResult,
  type ExecutionStatus,
  TERMINAL_EXECUTION_STATUSES,
} from '@orchestr8/core';
import { Channel, type PostgresStore } from '@orchestr8/store-postgres';

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

  constructor(
    private readonly store: PostgresStore,
    private readonly bus: EventBus,
    private readonly pollMs = 1000,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.store.listen(
      Channel.exec,
      (payload) => this.onNotice(payload),
      () => this.poll(),
    );
    this.pollTimer = setInterval(() => this.poll(), this.pollMs);
    this.pollTimer.unref();
  }

  /** The result once the execution is terminal. */
  wait(executionId: string): Promise<ExecutionResult> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(executionId) ?? [];
      list.push(resolve);
      this.waiters.set(executionId, list);
      // It may have finished before we listened.
      this.check([executionId]).catch(reject);
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
    if (finished && this.waiters.has(id)) void this.check([id]).catch(() => {});
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

  private async check(ids: string[]): Promise<void> {
    const r = await this.store.query(
      'check executions',
      'SELECT id, status FROM executions WHERE id = ANY($1::text[])',
      [ids],
      'o8_statuses',
    );
    const status = new Map(r.rows.map((row) => [row.id as string, row.status as string]));
    for (const id of ids) {
      const st = status.get(id);
      if (st !== undefined && !TERMINAL_EXECUTION_STATUSES.has(st as ExecutionStatus)) continue;
      const list = this.waiters.get(id);
      if (!list) continue;
      this.waiters.delete(id);
      const rec = st === undefined ? undefined : await this.store.getExecution(id);
      const result: ExecutionResult = rec
        ? buildResult(rec, await this.store.getSteps(id))
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

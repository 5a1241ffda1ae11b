import type { EngineEvent, StepStatus } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import { formatDuration, type Style, styleFor } from './term.js';

interface Row {
  id: string;
  status: StepStatus;
  attempt: number;
  startedAt?: number;
  finishedAt?: number;
  note?: string;
}

const ICON: Record<StepStatus, string> = {
  pending: '○',
  running: '◐',
  retrying: '↻',
  completed: '✓',
  failed: '✗',
  skipped: '−',
  cancelled: '⊘',
};

/**
 * Live progress of one execution. On a TTY: a line per step, redrawn in place (at most
 * ten times a second). Otherwise: one appended line per step transition, for logs and CI.
 */
export class ProgressView {
  private rows: Row[];
  private byId = new Map<string, Row>();
  private drawn = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;
  private readonly s: Style;

  constructor(
    workflow: CompiledWorkflow,
    private readonly out: NodeJS.WriteStream,
    private readonly verbose = false,
  ) {
    this.tty = Boolean(out.isTTY);
    this.s = styleFor(out);
    this.rows = workflow.steps.map((st) => ({ id: st.id, status: 'pending' as StepStatus, attempt: 0 }));
    for (const r of this.rows) this.byId.set(r.id, r);
  }

  /** Starts drawing (on a TTY); call after printing anything that goes above the view. */
  start(): void {
    if (!this.tty || this.timer) return;
    this.draw();
    this.timer = setInterval(() => this.draw(), 100);
    this.timer.unref();
  }

  onEvent = (e: EngineEvent): void => {
    if (this.verbose && !this.tty)
      this.out.write(`${this.s.dim(`#${e.seq}`)} ${e.type}${e.stepId ? ` ${e.stepId}` : ''}\n`);
    if (!e.stepId) return;
    const row = this.byId.get(e.stepId);
    if (!row) return;
    const data = (e.data ?? {}) as Record<string, unknown>;
    let changed = true;
    switch (e.type) {
      case 'step.started':
        row.status = 'running';
        row.startedAt = e.ts;
        row.attempt = e.attempt ?? 1;
        if (typeof data.fallbackFor === 'string') row.note = `fallback for ${data.fallbackFor}`;
        break;
      case 'step.attempt':
        row.status = 'running';
        row.attempt = e.attempt ?? row.attempt;
        row.note = undefined;
        break;
      case 'step.retrying':
        row.status = 'retrying';
        row.note = `retry in ${formatDuration(data.delayMs as number)}: ${(data.error as { message?: string })?.message ?? ''}`;
        break;
      case 'step.completed':
        row.status = 'completed';
        row.finishedAt = e.ts;
        row.note = typeof data.aliasFor === 'string' ? `output from fallback ${data.aliasFor}` : undefined;
        break;
      case 'step.failed':
        row.status = 'failed';
        row.finishedAt = e.ts;
        row.note =
          `${(data.error as { code?: string })?.code ?? ''} ${(data.error as { message?: string })?.message ?? ''}`.trim();
        break;
      case 'step.skipped':
        row.status = 'skipped';
        row.note = String(data.reason ?? '');
        break;
      case 'step.cancelled':
        row.status = 'cancelled';
        row.finishedAt = e.ts;
        row.note = String(data.reason ?? '');
        break;
      default:
        changed = false;
    }
    if (changed && !this.tty) this.out.write(`${this.line(row)}\n`);
  };

  private line(r: Row): string {
    const s = this.s;
    const color =
      r.status === 'completed'
        ? s.green
        : r.status === 'failed'
          ? s.red
          : r.status === 'retrying' || r.status === 'cancelled'
            ? s.yellow
            : r.status === 'running'
              ? s.cyan
              : s.dim;
    // A live (TTY) row shows the time so far; an appended line only shows finished durations.
    const dur =
      r.startedAt === undefined
        ? ''
        : r.finishedAt !== undefined
          ? formatDuration(r.finishedAt - r.startedAt)
          : this.tty
            ? formatDuration(Date.now() - r.startedAt)
            : '';
    const attempt = r.attempt > 1 ? ` attempt ${r.attempt}` : '';
    const note = r.note ? s.dim(`  ${r.note}`) : '';
    return `${color(`${ICON[r.status]} ${r.id.padEnd(this.width())} ${r.status.padEnd(9)}`)}${attempt} ${s.dim(dur)}${note}`;
  }

  private width(): number {
    let w = 4;
    for (const r of this.rows) w = Math.max(w, r.id.length);
    return Math.min(w, 40);
  }

  private draw(): void {
    const cols = this.out.columns || 120;
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const r of this.rows) {
      let l = this.line(r);
      // Keep each row on one terminal line so the redraw stays aligned.
      if (visibleLength(l) > cols - 1) l = truncateVisible(l, cols - 1);
      text += `\x1b[2K${l}\n`;
    }
    this.drawn = this.rows.length;
    this.out.write(text);
  }

  /**
   * Prints text (a log line, a notice) above the live rows: on a TTY the rows are cleared,
   * the text printed, and the rows drawn again below it, so neither overwrites the other.
   */
  print(text: string): void {
    if (!this.tty || this.drawn === 0 || this.stopped) {
      this.out.write(text);
      return;
    }
    this.out.write(`\x1b[${this.drawn}A\x1b[0J${text}${text.endsWith('\n') ? '' : '\n'}`);
    this.drawn = 0;
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty && !this.stopped) this.draw();
    this.stopped = true;
  }
}

/**
 * Standard error for logs and notices while a live view may be on screen (`view` set):
 * what is written goes above the view's rows. Usable as a logger destination.
 */
export class AboveView {
  view: ProgressView | undefined;

  constructor(private readonly out: NodeJS.WriteStream) {}

  get isTTY(): boolean {
    return Boolean(this.out.isTTY);
  }

  write(chunk: string): boolean {
    if (this.view) this.view.print(String(chunk));
    else this.out.write(chunk);
    return true;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes
const ANSI = /\x1b\[[0-9;]*m/g;
function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}
function truncateVisible(s: string, max: number): string {
  const stripped = s.replace(ANSI, '');
  return `${stripped.slice(0, Math.max(0, max - 1))}…`;
}

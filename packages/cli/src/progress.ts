import type { EngineEvent, StepStatus } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import { describeReason } from './report.js';
import { formatDuration, type Style, styleFor } from './term.js';

interface Row {
  id: string;
  status: StepStatus;
  attempt: number;
  startedAt?: number;
  finishedAt?: number;
  note?: string;
  /** The error of the attempt that failed last, shown while the next one runs. */
  lastError?: string;
  /** The last line appended for this row (off a terminal): an event that changes nothing shown prints nothing. */
  printed?: string;
}

const ICON: Record<StepStatus, string> = {
  pending: '○',
  running: '◐',
  retrying: '↻',
  waiting: '⏸',
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
        row.note = typeof data.fallbackFor === 'string' ? `fallback for ${data.fallbackFor}` : undefined;
        break;
      case 'step.attempt':
        row.status = 'running';
        row.attempt = e.attempt ?? row.attempt;
        // On a terminal the retry's row is redrawn away: keep what went wrong in sight.
        row.note = this.tty && row.lastError !== undefined ? `after: ${row.lastError}` : undefined;
        break;
      case 'step.retrying':
        row.status = 'retrying';
        row.lastError = errorText(data.error);
        row.note = `retry in ${formatDuration(data.delayMs as number)}: ${row.lastError}`;
        break;
      case 'step.fallback':
        // The step has failed for good; say why before its fallback's output stands in.
        row.status = 'failed';
        row.lastError = errorText(data.error, true);
        row.note = `${row.lastError}; falling back to ${String(data.fallbackStepId)}`;
        break;
      case 'step.completed':
        row.status = 'completed';
        row.finishedAt = e.ts;
        row.note =
          typeof data.aliasFor === 'string'
            ? `output from fallback ${data.aliasFor}${row.lastError !== undefined ? ` (failed: ${row.lastError})` : ''}`
            : undefined;
        break;
      case 'step.failed':
        row.status = 'failed';
        row.finishedAt = e.ts;
        row.note = errorText(data.error, true);
        break;
      case 'step.skipped':
        row.status = 'skipped';
        row.note = describeReason(String(data.reason ?? ''));
        break;
      case 'step.waiting':
        row.status = 'waiting';
        row.note =
          data.kind === 'approval'
            ? `waiting for approval: ${String(data.title ?? '')}`
            : Array.isArray(data.events)
              ? `waiting for ${data.kind === 'all' ? 'all of ' : ''}event ${data.events.join(data.kind === 'all' ? ' and ' : ' or ')}${typeof data.dueAt === 'string' ? ` (until ${data.dueAt})` : ''}`
              : `waiting until ${String(data.dueAt ?? '')}`;
        break;
      case 'step.cancelled':
        row.status = 'cancelled';
        row.finishedAt = e.ts;
        row.note = String(data.reason ?? '');
        break;
      default:
        changed = false;
    }
    if (!changed || this.tty) return;
    // A resumed step starts at attempt k and then reports attempt k: one line, not two.
    const line = this.line(row);
    if (line === row.printed) return;
    row.printed = line;
    this.out.write(`${line}\n`);
  };

  /** A row; with `max`, at most that many columns wide, its note cut at a word. */
  private line(r: Row, max?: number): string {
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
    let head = `${ICON[r.status]} ${r.id.padEnd(this.width())} ${r.status.padEnd(9)}${attempt}${dur ? ` ${dur}` : ''}`;
    let note = r.note ? `  ${r.note}` : '';
    if (!note && !dur) head = head.trimEnd();
    if (max !== undefined && head.length + note.length > max) {
      if (head.length >= max) return color(cut(head, max));
      note = note.length > 2 ? `  ${cutAtWord(note.slice(2), max - head.length - 2)}` : '';
    }
    return `${color(head.slice(0, head.length - (dur ? dur.length + 1 : 0)))}${dur ? ` ${s.dim(dur)}` : ''}${note ? s.dim(note) : ''}`;
  }

  private width(): number {
    let w = 4;
    for (const r of this.rows) w = Math.max(w, r.id.length);
    return Math.min(w, 40);
  }

  private draw(): void {
    const cols = this.out.columns || 120;
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    // Each row stays on one terminal line, so the redraw stays aligned.
    for (const r of this.rows) text += `\x1b[2K${this.line(r, cols - 1)}\n`;
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

function errorText(error: unknown, withCode = false): string {
  const e = (error ?? {}) as { code?: string; message?: string };
  return `${withCode && e.code ? `${e.code} ` : ''}${e.message ?? ''}`.trim();
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** At most `max` characters, ending at a word boundary (or mid-word only for one long word) with "…". */
function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max < 2) return '';
  const room = text.slice(0, max - 1);
  const space = room.lastIndexOf(' ');
  return `${(space >= max / 3 ? room.slice(0, space) : room).trimEnd()}…`;
}

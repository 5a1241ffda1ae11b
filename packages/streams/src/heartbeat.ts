/**
 * Heartbeats of stream processors: each live processor writes where it is (its committed
 * slice, backlog and lag) at an interval, through its transport, so operators can see
 * every processor of a stream and tell a dead one (no heartbeat for three intervals) from
 * one that stopped cleanly.
 */
import { hostname } from 'node:os';

export interface ProcessorHeartbeat {
  /** The processor's id (default: the host name, so a restarted processor replaces its dead predecessor's entry). */
  processor: string;
  stream: string;
  host: string;
  pid: number;
  startedAt: number;
  /** When this heartbeat was written (epoch ms, the processor's clock). */
  at: number;
  /** How often the processor writes one. */
  intervalMs: number;
  /** The last slice applied to the context (-1: none). */
  committedSlice: number;
  /** Closed slices waiting to be processed. */
  backlog: number;
  lagMs: number;
  /**
   * `running` while it holds the stream, `standby` while another processor does, `stopped`
   * once it stopped cleanly (never reported stale).
   */
  state: 'running' | 'standby' | 'stopped';
}

export interface ProcessorView extends ProcessorHeartbeat {
  /** Milliseconds since the heartbeat was written. */
  ageMs: number;
  /** Running or standby, yet silent for more than `STALE_INTERVALS` intervals: probably dead. */
  stale: boolean;
}

/** Intervals without a heartbeat after which a running processor is reported stale. */
export const STALE_INTERVALS = 3;

export const DEFAULT_HEARTBEAT_MS = 5_000;

export function defaultProcessorId(): string {
  return hostname();
}

/** The heartbeats as operators see them at `now`: newest first, stale ones flagged. */
export function viewHeartbeats(beats: readonly ProcessorHeartbeat[], now: number): ProcessorView[] {
  return beats
    .map((b) => {
      const ageMs = Math.max(0, now - b.at);
      return { ...b, ageMs, stale: b.state !== 'stopped' && ageMs > STALE_INTERVALS * b.intervalMs };
    })
    .sort((a, b) => b.at - a.at || (a.processor < b.processor ? -1 : 1));
}

/**
 * Status colours. Each status has a colour for light and one for dark backgrounds, chosen to
 * stay apart for the common colour-vision deficiencies (blue/orange rather than green/red
 * alone), and a text label, so that no state is told by colour only.
 */
export type StepStatus =
  | 'pending'
  | 'running'
  | 'retrying'
  | 'waiting'
  | 'completed'
  | 'failed'
  | 'skipped'
  | 'cancelled';
export type ExecutionStatus = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export type AnyStatus = StepStatus | ExecutionStatus;

export interface StatusStyle {
  /** The fill in a light theme. */
  light: string;
  /** The fill in a dark theme. */
  dark: string;
  label: string;
  /** A one-character mark shown next to the label (for when colour is not seen). */
  mark: string;
}

export const STATUS_STYLES: Readonly<Record<AnyStatus, StatusStyle>> = {
  pending: { light: '#d0d4da', dark: '#4a5058', label: 'pending', mark: '○' },
  queued: { light: '#d0d4da', dark: '#4a5058', label: 'queued', mark: '○' },
  running: { light: '#7cb8f5', dark: '#2f6fb5', label: 'running', mark: '▶' },
  retrying: { light: '#f7c56b', dark: '#a8741a', label: 'retrying', mark: '↻' },
  // ‖ rather than ⏸ (U+23F8), which DejaVu and Liberation, Debian's stock fonts, do not have.
  waiting: { light: '#c8b5f0', dark: '#6a4fb0', label: 'waiting', mark: '‖' },
  completed: { light: '#8fd19e', dark: '#2e7d43', label: 'completed', mark: '✓' },
  failed: { light: '#f28b82', dark: '#b3362c', label: 'failed', mark: '✕' },
  skipped: { light: '#eceff3', dark: '#2f343a', label: 'skipped', mark: '–' },
  cancelled: { light: '#b9a48f', dark: '#6b5a48', label: 'cancelled', mark: '⊘' },
};

const UNKNOWN: StatusStyle = { light: '#d0d4da', dark: '#4a5058', label: 'unknown', mark: '?' };

export function statusStyle(status: string | undefined): StatusStyle {
  return (status !== undefined && STATUS_STYLES[status as AnyStatus]) || UNKNOWN;
}

/** The CSS custom property a status's colour is read from (the stylesheet switches it for dark). */
export function statusVar(status: string | undefined): string {
  const s = status !== undefined && status in STATUS_STYLES ? status : 'pending';
  return `var(--status-${s})`;
}

/** The stylesheet rules defining every `--status-*` property for light and dark themes. */
export function statusCss(): string {
  const entries = Object.entries(STATUS_STYLES) as [AnyStatus, StatusStyle][];
  const light = entries.map(([k, v]) => `--status-${k}:${v.light};`).join('');
  const dark = entries.map(([k, v]) => `--status-${k}:${v.dark};`).join('');
  return `:root{${light}}@media (prefers-color-scheme: dark){:root{${dark}}}`;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export function isTerminal(status: string | undefined): boolean {
  return status !== undefined && TERMINAL.has(status);
}

import { type EngineEvent, type EngineObserver, EventType } from '@orchestr8/core';
import type { Level, Logger } from 'pino';

export interface LogObserverOptions {
  /**
   * Also log the inputs and outputs events carry (already redacted of declared secrets).
   * Off by default: workflow data is the user's, and may hold anything.
   */
  includeData?: boolean;
}

/**
 * The level each event is logged at. Lifecycle at info; trouble that the engine handles
 * (retries, timeouts, a step failing, a circuit opening) at warn; a failed execution at
 * error; the routine rest at debug.
 */
const LEVELS: Record<string, Level> = {
  [EventType.executionStarted]: 'info',
  [EventType.executionResumed]: 'info',
  [EventType.executionCompleted]: 'info',
  [EventType.executionCancelled]: 'info',
  [EventType.executionSuspended]: 'info',
  [EventType.executionCancelling]: 'info',
  [EventType.executionFailed]: 'error',
  [EventType.stepFailed]: 'warn',
  [EventType.stepRetrying]: 'warn',
  [EventType.timeoutExceeded]: 'warn',
  [EventType.circuitOpened]: 'warn',
  [EventType.journalDropped]: 'warn',
  [EventType.stepFallback]: 'info',
  [EventType.circuitHalfOpen]: 'info',
  [EventType.circuitClosed]: 'info',
};

/** Fields of event data that are safe to log (no workflow data). */
const SAFE_FIELDS = [
  'workflowVersion',
  'agent',
  'durationMs',
  'delayMs',
  'nextAttempt',
  'timeoutMs',
  'reason',
  'status',
  'key',
  'from',
  'to',
  'retryAfterMs',
  'fallbackStepId',
  'fallbackFor',
  'aliasFor',
  'onError',
  'childExecutionId',
  'graceMs',
  'gracePeriodMs',
  'running',
  'journalDropped',
] as const;

/**
 * An `EngineObserver` writing the engine's events as log lines, with `executionId`,
 * `workflowId`, `stepId` and `attempt` fields. Inputs and outputs are left out unless
 * `includeData`; errors are logged as `{code, message}` (already redacted by the engine).
 */
export function createLogObserver(logger: Logger, options: LogObserverOptions = {}): EngineObserver {
  const includeData = options.includeData ?? false;
  const values = logger.levels.values;
  return {
    onEvent(e: EngineEvent) {
      const level = LEVELS[e.type] ?? 'debug';
      // A number comparison: most events are below the level, and this runs for every one.
      if (values[level]! < logger.levelVal) return;
      const fields: Record<string, unknown> = {
        event: e.type,
        executionId: e.executionId,
        workflowId: e.workflowId,
      };
      if (e.stepId !== undefined) fields.stepId = e.stepId;
      if (e.attempt !== undefined) fields.attempt = e.attempt;
      const data = e.data as Record<string, unknown> | undefined;
      if (data !== undefined && data !== null && typeof data === 'object') {
        for (const k of SAFE_FIELDS) if (data[k] !== undefined) fields[k] = data[k];
        const error = data.error as { code?: unknown; message?: unknown } | undefined;
        if (error && typeof error === 'object') fields.error = { code: error.code, message: error.message };
        if (includeData) {
          for (const k of ['inputs', 'input', 'outputs', 'output'] as const)
            if (data[k] !== undefined) fields[k] = data[k];
        }
      }
      logger[level](fields, message(e));
    },
  };
}

function message(e: EngineEvent): string {
  const [subject, verb] = e.type.split('.');
  const what = subject === 'step' ? `step ${e.stepId ?? ''}` : subject;
  return `${what} ${(verb ?? e.type).replace(/_/g, '-')}`;
}

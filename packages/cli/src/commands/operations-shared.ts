/**
 * What `orchestr8 retry` and `orchestr8 rerun` share: running in this process on the store
 * (an engine with the project's agents) or asking a running `orchestr8 serve` (--server),
 * and printing a plan.
 */
import { serializeError } from '@orchestr8/common';
import type { ExecutionResult, RerunPlan, Store } from '@orchestr8/core';
import { createEngine, type Engine, redactorForDefinition } from '@orchestr8/core';
import { capabilitiesFor } from '../capabilities.js';
import { loadProjectConfig, storeFlag } from '../config.js';
import { buildRegistry, remoteAgentFor } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { reportError } from '../fail.js';
import { UsageError } from '../inputs.js';
import { engineLogging, openLogger } from '../logger.js';
import { printResult } from '../report.js';
import { callServerAt, RemoteError } from '../server-call.js';
import { styleFor } from '../term.js';
import { openHistoryStore, printJson, sleep, statusColor } from './history-shared.js';

export interface OperationOptions {
  agents: string[];
  store?: string;
  server?: string;
  apiKey?: string;
  json?: boolean;
  quiet?: boolean;
  /** With --server: wait for the execution to finish (exit code by its status). */
  wait?: boolean;
}

export const OPERATION_EXIT_HELP =
  'In this process (the default), the execution runs here on the store (--store), with the agents of\n' +
  '--agents and the project config, as `orchestr8 resume` does; with --server it is asked of a running\n' +
  '`orchestr8 serve` (API key from --api-key or $ORCHESTR8_API_KEY), which runs it.\n' +
  'Exit codes: 0 completed (with --server: accepted, or completed with --wait), 1 failed, cancelled,\n' +
  'not found or refused (409), 2 usage (bad flags, unknown step, invalid inputs).';

/** An engine on the store for one operation, with the project's agents; closed by the caller. */
export async function localEngine(
  opts: OperationOptions,
): Promise<{ engine: Engine; store: Store; spec: string } | { missing: string }> {
  const config = await loadProjectConfig();
  const registry = await buildRegistry(opts.agents, config);
  const opened = await openHistoryStore(storeFlag(opts.store, config));
  if (opened.store === undefined) return { missing: opened.spec };
  const logger = openLogger({}, 'warn', process.stderr, { liveView: false });
  if ('usage' in logger) throw new UsageError(logger.usage);
  const engine = createEngine({
    ...engineLogging(logger, registry, { liveView: false }),
    store: opened.store,
    remoteAgent: remoteAgentFor,
    capabilities: capabilitiesFor(config, {}),
  });
  return { engine, store: opened.store, spec: opened.spec };
}

/**
 * Runs `fn` with an engine on the store (closing both after), reporting a missing store or
 * execution and any error as the CLI does: the part `retry` and `rerun` share in this process.
 */
export async function withLocalEngine(
  id: string,
  opts: OperationOptions,
  fn: (engine: Engine, store: Store) => Promise<number>,
): Promise<number> {
  let engine: Engine | undefined;
  let store: Store | undefined;
  try {
    const local = await localEngine(opts);
    if ('missing' in local) {
      process.stderr.write(`error NOT_FOUND: no execution "${id}" in store ${local.missing}\n`);
      return ExitCode.failed;
    }
    ({ engine, store } = local);
    return await fn(engine, store);
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await engine?.close().catch(() => {});
    await store?.close().catch(() => {});
  }
}

/** Prints a finished result (redacted, as the store keeps outputs whole) and returns the exit code. */
export async function reportResult(
  store: Store,
  result: ExecutionResult,
  opts: OperationOptions,
): Promise<number> {
  const def = await store.getDefinition(result.workflowId, result.workflowVersion);
  const shown = redactorForDefinition(def?.document).redact(result) as ExecutionResult;
  if (opts.json) printJson(shown);
  else printResult(shown, undefined, process.stdout, { quiet: Boolean(opts.quiet) });
  return result.status === 'completed' ? ExitCode.ok : ExitCode.failed;
}

/** One call to the server named by --server. */
export function serverCall(
  opts: OperationOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  return callServerAt(opts, method, path, body);
}

/** With --wait: polls the execution on the server until it is finished; the exit code by its status. */
export async function waitOnServer(opts: OperationOptions, executionId: string): Promise<number> {
  for (;;) {
    const r = (await serverCall(opts, 'GET', `/executions/${encodeURIComponent(executionId)}`)) as {
      status: string;
    };
    if (r.status === 'completed' || r.status === 'failed' || r.status === 'cancelled') {
      if (opts.json) printJson(r);
      else
        process.stdout.write(
          `execution ${executionId} ${statusColor(styleFor(process.stdout), r.status)(r.status)}\n`,
        );
      return r.status === 'completed' ? ExitCode.ok : ExitCode.failed;
    }
    await sleep(250);
  }
}

/** A refusal of the server as an exit code: usage for 400/401/403/422, failure otherwise. */
export function remoteFailure(e: unknown, opts: OperationOptions): number | undefined {
  if (!(e instanceof RemoteError)) return undefined;
  if (opts.json) printJson({ error: { code: e.code, status: e.status, message: e.message } });
  process.stderr.write(`error ${e.code}: ${e.message}\n`);
  return [-1, 400, 401, 403, 422].includes(e.status) ? ExitCode.usage : ExitCode.failed;
}

/** The plan of a rerun, for people: what runs again, what is reused, and why. */
export function formatPlan(plan: RerunPlan): string {
  const lines = [
    `  runs again: ${plan.rerun.join(', ') || '(nothing)'}`,
    `  reused:     ${plan.reused.join(', ') || '(nothing)'}`,
  ];
  if (plan.changedInputs.length > 0) lines.push(`  changed inputs: ${plan.changedInputs.join(', ')}`);
  for (const i of plan.invalidated)
    lines.push(`    ${i.stepId} reads inputs.${i.inputs.join(', inputs.')}: runs again`);
  return `${lines.join('\n')}\n`;
}

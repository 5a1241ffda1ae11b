import type { MutableAgentRegistry } from '@orchestr8/agent-base';
import { serializeError } from '@orchestr8/common';
import {
  buildResult,
  createEngine,
  createViewRedaction,
  type EngineEvent,
  type ExecutionHandle,
  type ExecutionRecord,
  type ExecutionResult,
  redactorForDefinition,
  type Store,
} from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import type { PostgresStore } from '@orchestr8/store-postgres';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor } from '../capabilities.js';
import { defaultConcurrency, loadProjectConfig, storeFlag } from '../config.js';
import { buildRegistry, collect, remoteAgentFor } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { engineLogging, LOG_FORMAT_OPTION, type LogOptions, logLevelOption, openLogger } from '../logger.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { AboveView, ProgressView } from '../progress.js';
import { printResult } from '../report.js';
import { setupTelemetry, type Telemetry } from '../telemetry.js';
import { formatDuration, styleFor } from '../term.js';
import { isTerminal, openHistoryStore, printJson, requireExecution, statusColor } from './history-shared.js';

interface ResumeOptions extends LogOptions, CapabilityFlags {
  agents: string[];
  concurrency?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  store?: string;
}

interface Plan {
  record: ExecutionRecord;
  /** The stored definition, compiled; undefined when it is missing or invalid (engine.resume reports why). */
  workflow: CompiledWorkflow | undefined;
  finishedSteps: number;
}

const FINISHED_STEP = new Set(['completed', 'failed', 'skipped', 'cancelled']);

export function registerResumeCommand(program: Command): void {
  program
    .command('resume')
    .description('resume executions left running by a process that stopped (crashed, killed or shut down)')
    .argument('[id]', 'the execution to resume; without it, every execution left running')
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option('-c, --concurrency <n>', 'maximum steps running at once per execution (overrides the document)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--json', 'print the final result as JSON on stdout (an array without <id>; no live view)')
    .option('-q, --quiet', 'no live view; print only the result')
    .option('-v, --verbose', 'print every journal event')
    .option(...logLevelOption('warn'))
    .option(...LOG_FORMAT_OPTION)
    .addHelpText(
      'after',
      '\nCompleted steps are not run again (their outputs are reloaded); steps that were running when the\n' +
        'process died run again with the same ctx.idempotencyKey. A finished execution never runs again.\n' +
        'Only resume executions whose process is gone: two processes running one execution run its steps twice.\n' +
        'Exit codes: 0 completed (or nothing to resume), 1 failed or cancelled, 2 usage or missing agents,\n' +
        '130 cancelled by Ctrl-C (a second Ctrl-C forces).',
    )
    .action(async (id: string | undefined, opts: ResumeOptions) => {
      process.exitCode = await resumeCommand(id, opts);
    });
}

async function resumeCommand(id: string | undefined, opts: ResumeOptions): Promise<number> {
  let store: Store | undefined;
  let telemetry: Telemetry | undefined;
  try {
    const stderr = new AboveView(process.stderr);
    const live = !opts.json && !opts.quiet;
    const logger = openLogger(opts, 'warn', stderr, { liveView: live });
    if ('usage' in logger) return failUsage(logger.usage);
    let concurrency: number | undefined;
    if (opts.concurrency !== undefined) {
      concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        return failUsage(`--concurrency must be a positive integer, got "${opts.concurrency}"`);
      }
    }
    const config = await loadProjectConfig();
    const registry = await buildRegistry(opts.agents, config);
    const opened = await openHistoryStore(storeFlag(opts.store, config));
    store = opened.store;
    const spec = opened.spec;

    let records: ExecutionRecord[];
    if (id !== undefined) {
      const record = await requireExecution(store, id, spec);
      if (isTerminal(record.status)) return await reportFinished(store!, record, opts);
      records = [record];
    } else {
      records = store ? await unfinished(store) : [];
    }
    if (records.length === 0) {
      if (opts.json) printJson([]);
      else process.stderr.write(`nothing to resume: no execution is left running in ${spec}\n`);
      return ExitCode.ok;
    }

    if (store!.kind === 'postgres') {
      // On PostgreSQL, workers run steps: resuming hands the execution to them (its running
      // steps are re-queued), instead of running it in this process beside them.
      const { createDistributedEngine } = await import('@orchestr8/worker');
      const engine = await createDistributedEngine({
        store: store as PostgresStore,
        registry,
        worker: false,
        capabilities: capabilitiesFor(config, opts),
      });
      for (const r of records) await engine.resume(r.id);
      if (opts.json) printJson(records.map((r) => ({ executionId: r.id, handedToWorkers: true })));
      else
        for (const r of records)
          process.stderr.write(`execution ${r.id} handed to the workers (orchestr8 worker)\n`);
      await engine.shutdown({ graceMs: 0 });
      return ExitCode.ok;
    }

    const plans: Plan[] = [];
    for (const record of records) plans.push(await plan(store!, record));
    // Resuming without an agent would fail its steps for good (AGENT_NOT_FOUND is final), so
    // refuse before anything runs.
    const missing = plans.flatMap((p) => missingAgents(p, registry));
    if (missing.length > 0) {
      for (const m of missing) process.stderr.write(`error: ${m}\n`);
      process.stderr.write(
        'load them with --agents <module> (as for `orchestr8 run`); nothing was resumed\n',
      );
      return ExitCode.usage;
    }

    telemetry = await setupTelemetry(logger, { exportTimeoutMs: 3000 });
    const engine = createEngine({
      // Only a single execution gets the live view of its steps; several get a line each as they end.
      ...engineLogging(logger, registry, { liveView: live && plans.length === 1 && !!plans[0]!.workflow }),
      store: store!,
      remoteAgent: remoteAgentFor,
      capabilities: capabilitiesFor(config, opts),
    });
    // Before the live view: on a terminal it redraws the lines below where it started.
    if (!opts.json) for (const p of plans) process.stderr.write(`${header(p, spec)}\n`);
    const single = plans.length === 1 ? plans[0] : undefined;
    const view =
      live && single?.workflow ? new ProgressView(single.workflow, process.stderr, opts.verbose) : undefined;
    if (view && process.stderr.isTTY) await replayJournal(store!, single!, view);
    view?.start();
    stderr.view = view;
    const sub = view
      ? engine.events.subscribe(view.onEvent, { capacity: 10_000 })
      : live
        ? engine.events.subscribe(printFinished, {
            types: ['execution.completed', 'execution.failed', 'execution.cancelled'],
          })
        : undefined;

    const handles: ExecutionHandle[] = [];
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts === 1)
        stderr.write(`${view && process.stderr.isTTY ? '' : '\n'}cancelling (Ctrl-C again to force)…\n`);
      for (const h of handles) {
        engine.cancel(h.id, { reason: 'interrupted (Ctrl-C)', ...(interrupts > 1 ? { force: true } : {}) });
      }
    };
    process.on('SIGINT', onSigint);
    let results: ExecutionResult[];
    const resumedPlans: Plan[] = [];
    let unresumable = 0;
    // Wall time of this process's run: a resumed execution's own duration counts from its first start.
    const resumedAt = performance.now();
    let thisRunMs: number | undefined;
    try {
      for (const p of plans) {
        let handle: ExecutionHandle;
        try {
          const max = concurrency ?? defaultConcurrency(config, p.workflow);
          handle = await engine.resume(p.record.id, {
            ...(max !== undefined ? { maxConcurrentSteps: max } : {}),
          });
        } catch (e) {
          // One execution that cannot be resumed (its definition is missing or no longer
          // valid) must not stop the others, which may already be running.
          if (plans.length === 1) throw e;
          unresumable++;
          reportError(e);
          continue;
        }
        handles.push(handle);
        resumedPlans.push(p);
        if (interrupts > 0) engine.cancel(handle.id, { reason: 'interrupted (Ctrl-C)' });
      }
      results = await Promise.all(handles.map((h) => h.result));
      thisRunMs = performance.now() - resumedAt;
    } finally {
      process.off('SIGINT', onSigint);
      // The bus delivers on setImmediate: let it hand over the last events (all of them, for
      // a run that never yielded to the event loop) before the view stops listening.
      await new Promise((r) => setImmediate(r));
      view?.stop();
      stderr.view = undefined;
      sub?.unsubscribe();
    }

    // The store keeps outputs whole (a resume needs them); what is printed is redacted.
    results = results.map(
      (r, i) => redactorForDefinition(resumedPlans[i]?.workflow?.document).redact(r) as ExecutionResult,
    );
    if (opts.json) printJson(id !== undefined ? results[0] : results);
    else {
      for (const [i, r] of results.entries()) {
        printResult(r, resumedPlans[i]?.workflow, process.stdout, {
          quiet: Boolean(opts.quiet),
          ...(thisRunMs !== undefined ? { thisRunMs } : {}),
        });
      }
    }
    if (unresumable === 0 && results.every((r) => r.status === 'completed')) return ExitCode.ok;
    if (interrupts > 0 && results.some((r) => r.status === 'cancelled')) return ExitCode.interrupted;
    return ExitCode.failed;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await store?.close().catch(() => {});
    await telemetry?.shutdown();
  }
}

/** Every execution left queued or running, oldest first (the order they were started). */
async function unfinished(store: Store): Promise<ExecutionRecord[]> {
  const out: ExecutionRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listExecutions({
      status: ['running', 'queued'],
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out.reverse();
}

async function plan(store: Store, record: ExecutionRecord): Promise<Plan> {
  const [definition, steps] = await Promise.all([
    store.getDefinitionByHash(record.definitionHash),
    store.getSteps(record.id),
  ]);
  const loaded = definition ? validateWorkflowObject(definition.document) : undefined;
  return {
    record,
    workflow: loaded?.ok ? loaded.workflow : undefined,
    finishedSteps: steps.filter((s) => FINISHED_STEP.has(s.status)).length,
  };
}

function missingAgents(p: Plan, registry: MutableAgentRegistry): string[] {
  if (!p.workflow) return [];
  const missing = new Set<string>();
  for (const step of p.workflow.steps) {
    // A remote agent (agent.url) is called over HTTP, not looked up here.
    if (step.agentUrl === undefined && !registry.get(step.agentId, step.agentVersion)) {
      missing.add(step.agentVersion ? `${step.agentId}@${step.agentVersion}` : step.agentId);
    }
  }
  if (missing.size === 0) return [];
  return [
    `execution ${p.record.id} (${p.record.workflowId}) needs agents that are not loaded: ${[...missing].join(', ')}`,
  ];
}

function header(p: Plan, spec: string): string {
  const total = p.workflow ? ` of ${p.workflow.steps.length}` : '';
  return (
    `resuming execution ${p.record.id} · ${p.record.workflowId}@${p.record.workflowVersion}` +
    ` · ${p.finishedSteps}${total} steps already finished · store ${spec}`
  );
}

/** On a terminal, shows what happened before the crash, so the live view starts where it left off. */
async function replayJournal(store: Store, p: Plan, view: ProgressView): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await store.readJournal(p.record.id, { afterSeq: after, limit: 1000 });
    for (const entry of page)
      view.onEvent({ ...entry, executionId: p.record.id, workflowId: p.record.workflowId });
    if (page.length < 1000) return;
    after = page[page.length - 1]!.seq;
  }
}

function printFinished(e: EngineEvent): void {
  const s = styleFor(process.stderr);
  const status = e.type.slice('execution.'.length);
  const duration = (e.data as { durationMs?: number } | undefined)?.durationMs;
  process.stderr.write(
    `${statusColor(s, status)(status.padEnd(9))} execution ${e.executionId} · ${e.workflowId}${
      duration !== undefined ? s.dim(` · ${formatDuration(duration)} this run`) : ''
    }\n`,
  );
}

/** A finished execution never runs again: say so, show its result, and exit as `run` would have. */
async function reportFinished(store: Store, record: ExecutionRecord, opts: ResumeOptions): Promise<number> {
  const redactor = await createViewRedaction(store).forExecution(record);
  const result = redactor.redact(buildResult(record, await store.getSteps(record.id))) as ExecutionResult;
  if (opts.json) printJson(result);
  else {
    const s = styleFor(process.stderr);
    process.stderr.write(
      `execution ${record.id} is already ${statusColor(s, record.status)(record.status)}; a finished execution never runs again\n`,
    );
    printResult(result, undefined, process.stdout, { quiet: Boolean(opts.quiet) });
  }
  return record.status === 'completed' ? ExitCode.ok : ExitCode.failed;
}

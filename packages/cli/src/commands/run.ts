import { writeFile } from 'node:fs/promises';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS } from '@orchestr8/client';
import { serializeError, ValidationError } from '@orchestr8/common';
import {
  createEngine,
  type Engine,
  type ExecutionHandle,
  type ExecutionResult,
  redactorForDefinition,
  type Store,
} from '@orchestr8/core';
import { formatDiagnostic, loadWorkflowFile } from '@orchestr8/schema';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor } from '../capabilities.js';
import { configuredStore, defaultConcurrency, loadProjectConfig } from '../config.js';
import { buildRegistry, collect, remoteAgentFor } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { collectInputs } from '../inputs.js';
import { engineLogging, LOG_FORMAT_OPTION, type LogOptions, logLevelOption, openLogger } from '../logger.js';
import { openStore, STORE_OPTION_HELP } from '../open-store.js';
import { AboveView, ProgressView } from '../progress.js';
import { exportJournal, printResult } from '../report.js';
import { setupTelemetry, type Telemetry } from '../telemetry.js';

interface RunOptions extends LogOptions, CapabilityFlags {
  input: string[];
  inputs?: string;
  agents: string[];
  concurrency?: string;
  json?: boolean;
  journal?: string;
  quiet?: boolean;
  verbose?: boolean;
  store?: string;
  server?: string;
  local?: boolean;
  apiKey?: string;
  idempotencyKey?: string;
  open?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a workflow document and print its result')
    .argument('<file>', 'workflow document (.yaml, .yml or .json)')
    .option(
      '-i, --input <key=value>',
      'an input value (JSON or string); repeatable, dotted keys nest',
      collect,
      [],
    )
    .option('--inputs <file>', 'a JSON or YAML file holding the inputs object')
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option('-c, --concurrency <n>', 'maximum steps running at once (overrides the document)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--json', 'print the final result as JSON on stdout (no live view)')
    .option('--journal <file>', 'write the journal to a file (.ndjson for NDJSON, else JSON)')
    .option('-q, --quiet', 'no live view; print only the result')
    .option('-v, --verbose', 'print every journal event')
    .option('--server <url>', 'run on an orchestr8 server (orchestr8 serve) instead of in this process')
    .option(
      '--local',
      "run in this process even when the project's local server (orchestr8 server start) runs",
    )
    .option('--api-key <key>', 'API key for --server (default: $ORCHESTR8_API_KEY)')
    .option(
      '--idempotency-key <key>',
      'with --server: re-running with the same key follows the same execution',
    )
    .option('--open', "when run on a server: open the execution's page in the console (default browser)")
    .option(...logLevelOption('warn'))
    .option(...LOG_FORMAT_OPTION)
    .addHelpText(
      'after',
      '\nOn a server (--server, or the local server): when the server stops answering (no answer to a call within\n' +
        `${DEFAULT_TIMEOUT_MS / 1000} s, $ORCHESTR8_HTTP_TIMEOUT in seconds, or nothing on the event stream for ${DEFAULT_IDLE_TIMEOUT_MS / 1000} s), run says so once on stderr and\n` +
        `tries again, less and less often, for up to 60 s ($ORCHESTR8_RECONNECT_TIMEOUT, in seconds); then it exits 1,\n` +
        'naming the execution, which may still run there (orchestr8 console <id>, orchestr8 list --server <url>).\n' +
        'Exit codes: 0 completed, 1 failed (or the server did not answer again), 2 invalid document or usage,\n' +
        '130 cancelled (Ctrl-C; a second Ctrl-C forces).',
    )
    .action(async (file: string, opts: RunOptions) => {
      if (opts.server !== undefined && opts.local) {
        process.exitCode = failUsage('--server and --local exclude each other');
        return;
      }
      // The project's local server, when it runs and can run this document (local-server.ts).
      if (opts.server === undefined && !opts.local) {
        const plan = await (await import('../local-server.js')).localServerFor(file, opts);
        if (plan.reason) process.stderr.write(`${plan.reason}; running in this process\n`);
        if (plan.url) {
          process.stderr.write(`using the local server at ${plan.url} (--local runs in this process)\n`);
          opts.server = plan.url;
        }
      }
      if (opts.server !== undefined) {
        const { runRemote } = await import('./run-remote.js');
        const server = opts.server;
        const open = opts.open
          ? async (id: string) => {
              const { consoleUrl, openConsole } = await import('./console.js');
              await openConsole(consoleUrl(server, id));
            }
          : undefined;
        process.exitCode = await runRemote(file, { ...opts, server, ...(open ? { onStarted: open } : {}) });
        return;
      }
      if (opts.open)
        process.stderr.write(
          '--open: this run is in this process, not on a server; nothing to open in the console\n',
        );
      process.exitCode = await runCommand(file, opts);
    });
}

async function runCommand(file: string, opts: RunOptions): Promise<number> {
  let store: Store | undefined;
  let opened: Engine | undefined;
  let telemetry: Telemetry | undefined;
  try {
    const stderr = new AboveView(process.stderr);
    const live = !opts.json && !opts.quiet;
    const logger = openLogger(opts, 'warn', stderr, { liveView: live });
    if ('usage' in logger) return failUsage(logger.usage);
    let concurrency: number | undefined;
    if (opts.concurrency !== undefined) {
      concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1)
        return failUsage(`--concurrency must be a positive integer, got "${opts.concurrency}"`);
    }
    const config = await loadProjectConfig();
    const registry = await buildRegistry(opts.agents, config);
    const loaded = await loadWorkflowFile(file, { knownAgents: registry.list().map((a) => a.id) });
    if (!loaded.ok || !loaded.workflow) {
      for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
      const summary = `${file}: ${errors} error${errors === 1 ? '' : 's'}; nothing was run`;
      // Under --json, one object on stdout as for invalid inputs: {error: {code: VALIDATION, details}}.
      if (opts.json) {
        const error = serializeError(new ValidationError(summary, { details: loaded.diagnostics }));
        process.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
      }
      process.stderr.write(`${summary}\n`);
      return ExitCode.usage;
    }
    const workflow = loaded.workflow;
    concurrency ??= defaultConcurrency(config, workflow);
    const inputs = await collectInputs(opts.inputs, opts.input);
    const spec = configuredStore(opts.store, config);
    telemetry = await setupTelemetry(logger, { exportTimeoutMs: 3000 });
    store = await openStore(spec);
    // Stopped before its store on every way out (finally below): its wait scanner reads the store.
    const engine = createEngine({
      ...engineLogging(logger, registry, { liveView: live }),
      store,
      remoteAgent: remoteAgentFor,
      capabilities: capabilitiesFor(config, opts),
    });
    opened = engine;
    const view = live ? new ProgressView(workflow, process.stderr, opts.verbose) : undefined;
    stderr.view = view;
    const sub = view ? engine.events.subscribe(view.onEvent, { capacity: 10_000 }) : undefined;

    let interrupts = 0;
    let handleId: string | undefined;
    // While every unfinished step waits, the execution lives in the store only: Ctrl-C leaves it there.
    let leaveWaiting: (() => void) | undefined;
    const onSigint = () => {
      interrupts++;
      if (!handleId) return;
      if (interrupts === 1 && leaveWaiting !== undefined && !engine.isRunning(handleId)) {
        leaveWaiting();
        return;
      }
      if (interrupts === 1) {
        // On a terminal the ^C echo ends the line; the live view reprints below the notice.
        stderr.write(`${view && process.stderr.isTTY ? '' : '\n'}cancelling (Ctrl-C again to force)…\n`);
        engine.cancel(handleId, { reason: 'interrupted (Ctrl-C)' });
      } else engine.cancel(handleId, { reason: 'interrupted (Ctrl-C, forced)', force: true });
    };
    process.on('SIGINT', onSigint);
    let result: ExecutionResult;
    try {
      const handle = await engine.start(workflow, {
        inputs,
        ...(concurrency !== undefined ? { maxConcurrentSteps: concurrency } : {}),
        ...(telemetry.traceContext !== undefined ? { traceContext: telemetry.traceContext } : {}),
      });
      handleId = handle.id;
      if (!opts.json)
        process.stderr.write(`execution ${handle.id} · ${workflow.id}@${workflow.version} · store ${spec}\n`);
      view?.start();
      if (interrupts > 0) engine.cancel(handle.id, { reason: 'interrupted (Ctrl-C)' });
      const outcome = await resultOrLeave(engine, handle, (leave) => {
        leaveWaiting = leave;
      });
      if (outcome === 'left') {
        view?.stop();
        stderr.write(
          `execution ${handle.id} is waiting and stays durable in store ${spec}: \`orchestr8 serve\` on this store wakes it ` +
            '(timers, events, signals, approvals)\n',
        );
        return ExitCode.interrupted;
      }
      result = outcome;
      await engine.events.flush();
    } finally {
      process.off('SIGINT', onSigint);
      view?.stop();
      stderr.view = undefined;
      sub?.unsubscribe();
    }
    if (opts.journal)
      await writeFile(opts.journal, await exportJournal(store, result.executionId, opts.journal));
    // The store keeps outputs whole (a resume needs them); what is printed is redacted.
    const shown = redactorForDefinition(workflow.document).redact(result) as ExecutionResult;
    if (opts.json) process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    else printResult(shown, workflow, process.stdout, { quiet: Boolean(opts.quiet) });
    if (result.status === 'completed') return ExitCode.ok;
    if (result.status === 'cancelled' && interrupts > 0) return ExitCode.interrupted;
    return ExitCode.failed;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await opened?.close().catch(() => {});
    await store?.close().catch(() => {});
    await telemetry?.shutdown();
  }
}

/**
 * The execution's result. While it waits (out of this engine's memory), its end may come from
 * another process on the same store (a \`serve\` that took an event or a decision), so the store
 * is looked at about once a second; `onWaiting` gets a function that stops waiting ('left').
 */
async function resultOrLeave(
  engine: Engine,
  handle: ExecutionHandle,
  onWaiting: (leave: () => void) => void,
): Promise<ExecutionResult | 'left'> {
  let timer: NodeJS.Timeout | undefined;
  const elsewhere = new Promise<ExecutionResult | 'left'>((resolve) => {
    onWaiting(() => resolve('left'));
    const look = async () => {
      if (!engine.isRunning(handle.id)) {
        const r = await engine.getResult(handle.id).catch(() => undefined);
        if (
          r !== undefined &&
          (r.status === 'completed' || r.status === 'failed' || r.status === 'cancelled')
        ) {
          resolve(r);
          return;
        }
      }
      timer = setTimeout(look, 1000);
    };
    timer = setTimeout(look, 1000);
  });
  try {
    return await Promise.race([handle.result, elsewhere]);
  } finally {
    clearTimeout(timer);
  }
}

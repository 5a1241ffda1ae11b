/**
 * `orchestr8 stream validate|run|status|replay`: event streams processed in time slices by
 * crews (see @orchestr8/streams). `run` reads NDJSON events from a file or stdin and writes
 * NDJSON actions, or runs live on NATS JetStream (stream-run.ts); `replay` re-processes a
 * recorded stream and compares its actions with the recorded ones (stream-replay.ts);
 * `status` (stream-status.ts).
 */
import { type Diagnostic, formatDiagnostic } from '@orchestr8/schema';
import type { Command } from 'commander';
import { capabilityOptions } from '../capabilities.js';
import { collect } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { err, loadWithCrews, out } from './stream-io.js';
import { replayCommand } from './stream-replay.js';
import { runCommand } from './stream-run.js';
import { statusCommand } from './stream-status.js';

async function validateCommand(files: string[], opts: { json?: boolean }): Promise<number> {
  if (files.length === 0) {
    err('error: stream validate needs at least one file\n');
    return ExitCode.usage;
  }
  const results: { file: string; valid: boolean; diagnostics: Diagnostic[] }[] = [];
  for (const file of files) {
    const r = await loadWithCrews(file);
    results.push({ file, valid: r.ok, diagnostics: r.diagnostics });
  }
  if (opts.json) out(`${JSON.stringify(results, null, 2)}\n`);
  else
    for (const r of results) {
      for (const d of r.diagnostics) err(`${formatDiagnostic(d)}\n`);
      if (r.valid) out(`${r.file}: valid\n`);
    }
  if (results.some((r) => r.diagnostics.some((d) => d.code === 'E_READ'))) return ExitCode.usage;
  return results.every((r) => r.valid) ? ExitCode.ok : ExitCode.failed;
}
/** The store option's help, after a phrase saying what the command records there. */
const storeHelp = (what: string) =>
  `${what}: ${STORE_OPTION_HELP.replace(/^where executions are recorded: /, '')}`;

function guarded<A extends unknown[]>(fn: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

export function registerStreamCommand(program: Command): void {
  const stream = program
    .command('stream')
    .description(
      'event streams: time slices processed by crews sharing a context (validate, run, status, replay)',
    );
  stream
    .command('validate')
    .description('check stream documents (schema, crews, dependencies, crew workflows) without running them')
    .argument('[files...]', 'stream documents (.yaml, .yml or .json)')
    .option('--json', 'print [{file, valid, diagnostics}] as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 all valid, 1 any invalid, 2 usage error or unreadable file.')
    .action(guarded(validateCommand));
  const run = stream
    .command('run')
    .description(
      'process a stream: NDJSON events from a file or stdin to NDJSON actions on stdout, or live on NATS JetStream',
    )
    .argument('<file>', 'the stream document')
    .option(
      '--events <file>',
      'NDJSON events, one per line ("-" reads stdin); every slice is processed in order',
    )
    .option('--nats <url>', 'process live from NATS JetStream (events, actions, context in KV) until Ctrl-C')
    .option(
      '--ack-wait <duration>',
      'with --nats: how long an event may stay unacknowledged before NATS delivers it again (default 30s; set when the durable consumer is created)',
    )
    .option(
      '--heartbeat <duration>',
      'with --nats: how often the processor writes its heartbeat (slice position, backlog, lag) for stream status (default 5s; 0: never)',
    )
    .option(
      '--processor-id <id>',
      "with --nats: this processor's name in heartbeats and stream status (default: the host name, so a restarted processor replaces its predecessor's entry; give each processor on one host its own)",
    )
    .option(
      '--slices-out <file>',
      'with --events: also write the slice records (NDJSON), for replay --slices',
    )
    .option('-a, --agents <module>', 'an agent module the crews may use (repeatable)', collect, [])
    .option('--store <url>', storeHelp("where the crews' executions are recorded"))
    .addHelpText(
      'after',
      '\nErrors (invalid events, failed crews) go to stderr, one per line. An event id already taken in\n' +
        'its slice is dropped (duplicate-event; the first is kept), as the live processor does; the\n' +
        'same id in another slice is another event.\nExit codes: 0 processed, 2 invalid document or usage error.',
    )
    .action(guarded(runCommand));
  capabilityOptions(run);
  stream
    .command('status')
    .description(
      'a stream on NATS JetStream or in a running serve: committed slice and lag, backlog, per-crew timings, processors',
    )
    .argument('<file>', 'the stream document')
    .option('--nats <url>', 'the NATS server the stream runs on (this or --server is required)')
    .option(
      '--server <url>',
      'a running `orchestr8 serve --stream` that hosts the stream (this or --nats is required)',
    )
    .option('--api-key <key>', 'with --server (default: $ORCHESTR8_API_KEY)')
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nProcessors: each live processor writes a heartbeat with its slice position; one silent for three\n' +
        'of its intervals is reported STALE.\nExit codes: 0 ok, 1 a processor is stale, 2 usage error.',
    )
    .action(guarded(statusCommand));
  const replay = stream
    .command('replay')
    .description(
      're-process a recorded stream into a fresh context and compare its actions with the recorded ones',
    )
    .argument('<file>', 'the stream document')
    .option('--events <file>', 'the recorded events (NDJSON)')
    .option('--actions <file>', 'the recorded actions (NDJSON)')
    .option(
      '--slices <file>',
      'the recorded slice records (NDJSON), so merged and skipped slices replay the same',
    )
    .option('--nats <url>', 'read the recorded events, actions and slice records from NATS JetStream')
    .option('--from <time>', 'only slices starting at or after this time (ISO-8601 or epoch ms)')
    .option('--to <time>', 'only slices starting before this time (ISO-8601 or epoch ms; after --from)')
    .option('--json', 'print the report as JSON')
    .option(
      '--recorded-outputs',
      'run each crew against the step outputs recorded when the stream ran (found in --store through the slice records) instead of calling its agents: exact even with non-deterministic agents',
    )
    .option('-a, --agents <module>', 'an agent module the crews may use (repeatable)', collect, [])
    .option('--store <url>', storeHelp("where the crews' executions are (and the replay's are recorded)"))
    .addHelpText(
      'after',
      '\nExit codes: 0 the actions match, 1 they differ or no slice was compared (none in the\n' +
        '--from/--to range, or no event), 2 invalid document or usage error (such as --from not before --to).',
    )
    .action(guarded(replayCommand));
  capabilityOptions(replay);
}

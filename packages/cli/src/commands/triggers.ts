/**
 * `orchestr8 triggers`: the triggers of a running `orchestr8 serve`, over its HTTP API
 * (`GET /triggers`, `POST /triggers/:workflow/:name/{pause,resume,run,backfill}`). The
 * scheduler lives in the server, so these commands never open a store themselves.
 */
import type { TriggerInfo } from '@orchestr8/triggers';
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { failUsage } from '../fail.js';
import { DEFAULT_SERVER_URL, SERVER_OPTION_HELP, serverForRemote } from '../local-server.js';
import { callServer, defaultApiKey, RemoteError, serverBaseUrl } from '../server-call.js';
import { styleFor, tableLines } from '../term.js';
import { printJson } from './history-shared.js';

export const DEFAULT_SERVER = DEFAULT_SERVER_URL;

interface RemoteOptions {
  server?: string;
  apiKey?: string;
  json?: boolean;
}

type Outcome =
  | { status: 'started'; executionId: string; created: boolean }
  | { status: 'queued' | 'debounced' | 'batched' }
  | { status: 'dropped'; reason: string }
  | { status: 'failed'; error: string };

const EXIT_HELP =
  '\nTalks to a running `orchestr8 serve` (--server, else the project server of `orchestr8 server start`, else ' +
  DEFAULT_SERVER +
  '; API key from --api-key or $ORCHESTR8_API_KEY).\n' +
  'Exit codes: 0 done, 1 not found, refused, dropped or failed firing, or the server is unreachable,\n' +
  '2 usage (bad --server, --from or --to; the server refused the API key or the request).';

/** A request the server refused or could not answer: status 0 when unreachable. */

function call(opts: RemoteOptions, base: string, method: string, path: string, body?: unknown) {
  return callServer(base, opts.apiKey || defaultApiKey(), method, path, body);
}

/** Runs one remote command; turns refusals into messages and exit codes. */
async function remote(
  opts: RemoteOptions,
  fn: (request: (method: string, path: string, body?: unknown) => Promise<unknown>) => Promise<number>,
): Promise<number> {
  const server = await serverForRemote(opts.server);
  const base = serverBaseUrl(server);
  if (!base) return failUsage(`--server must be an http(s) URL, got "${server}"`);
  try {
    return await fn((method, path, body) => call(opts, base, method, path, body));
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e;
    if (opts.json) printJson({ error: { code: e.code, status: e.status, message: e.message } });
    process.stderr.write(`error ${e.code}: ${e.message}\n`);
    return e.status === 400 || e.status === 401 || e.status === 403 || e.status === 422
      ? ExitCode.usage
      : ExitCode.failed;
  }
}

const enc = encodeURIComponent;
const pathOf = (workflow: string, name: string, op: string) =>
  `/triggers/${enc(workflow)}/${enc(name)}/${op}`;

/** `2025-03-30 03:00:00 Europe/Berlin` : the wall-clock time of `t` in `tz`. */
export function formatInZone(t: number, tz: string): string {
  const parts: Record<string, string> = {};
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  for (const p of f.formatToParts(new Date(t))) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${tz}`;
}

function describeSchedule(t: TriggerInfo): string {
  if (t.kind === 'event') return `event ${t.event ?? '?'}`;
  if (t.kind === 'webhook') return `POST /hooks/${t.workflowId}/${t.name}${t.signed ? ' (signed)' : ''}`;
  const s = t.schedule;
  if (!s) return '-';
  if (s.cron !== undefined) return `cron "${s.cron}"`;
  const ms = s.everyMs ?? 0;
  const every =
    ms % 3_600_000 === 0
      ? `${ms / 3_600_000}h`
      : ms % 60_000 === 0
        ? `${ms / 60_000}m`
        : ms % 1000 === 0
          ? `${ms / 1000}s`
          : `${ms}ms`;
  return `every ${every}`;
}

function nextOf(t: TriggerInfo): string {
  if (t.nextFireAt === undefined) return t.kind === 'schedule' && t.paused ? '(paused)' : '-';
  const tz = t.schedule?.timezone ?? 'UTC';
  const utc = new Date(t.nextFireAt).toISOString().replace('.000Z', 'Z');
  return tz === 'UTC' ? utc : `${formatInZone(t.nextFireAt, tz)} (${utc})`;
}

/** A counter; `-` from a server too old to send it. */
const count = (n: number | undefined) => (n === undefined ? '-' : String(n));

function printList(items: TriggerInfo[]): void {
  const out = process.stdout;
  const s = styleFor(out);
  if (items.length === 0) {
    out.write('no active triggers (register a workflow that declares triggers: PUT /workflows/<id>)\n');
    return;
  }
  // FAILED and DROPPED: firings since the server started that started nothing (an error; flow control).
  const header = [
    'WORKFLOW',
    'NAME',
    'KIND',
    'SCHEDULE',
    'NEXT',
    'PAUSED',
    'RUNNING',
    'QUEUED',
    'FAILED',
    'DROPPED',
  ];
  const rows = items.map((t) => [
    `${t.workflowId}@${t.workflowVersion}`,
    t.name,
    t.kind,
    describeSchedule(t),
    nextOf(t),
    t.paused ? 'yes' : 'no',
    String(t.running),
    String(t.queued),
    count(t.failed),
    count(t.dropped),
  ]);
  const lines = tableLines(header, rows);
  out.write(`${s.bold(lines[0]!)}\n`);
  for (const l of lines.slice(1)) out.write(`${l}\n`);
}

function describeOutcome(o: Outcome): string {
  switch (o.status) {
    case 'started':
      return o.created
        ? `started execution ${o.executionId}`
        : `execution ${o.executionId} (already started)`;
    case 'dropped':
      return `dropped (${o.reason})`;
    case 'failed':
      return `failed: ${o.error}`;
    default:
      return o.status;
  }
}

const okOutcome = (o: Outcome) => o.status !== 'failed' && o.status !== 'dropped';

function parseTime(flag: string, value: string | undefined): number | string {
  if (value === undefined) return `${flag} is required (an ISO-8601 time, e.g. 2025-01-01T00:00:00Z)`;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : `${flag} must be an ISO-8601 time, got "${value}"`;
}

function remoteOptions(cmd: Command, json: boolean): Command {
  cmd
    .option('--server <url>', SERVER_OPTION_HELP)
    .option('--api-key <key>', 'the API key (default: $ORCHESTR8_API_KEY)')
    .addHelpText('after', EXIT_HELP);
  if (json) cmd.option('--json', 'print the server answer as JSON');
  return cmd;
}

export function registerTriggersCommand(program: Command): void {
  const triggers = program
    .command('triggers')
    .description(
      'list, pause, resume, fire and backfill the triggers of a running orchestr8 serve (schedules, webhooks, events)',
    );

  remoteOptions(
    triggers
      .command('list')
      .description(
        'the active triggers: kind, schedule, next fire time (its timezone and UTC), paused, and their firings running, queued, failed and dropped',
      )
      .option('--workflow <id>', 'only this workflow'),
    true,
  ).action(async (opts: RemoteOptions & { workflow?: string }) => {
    process.exitCode = await remote(opts, async (request) => {
      const { items } = (await request('GET', '/triggers')) as { items: TriggerInfo[] };
      const shown = items
        .filter((t) => opts.workflow === undefined || t.workflowId === opts.workflow)
        .sort((a, b) => a.workflowId.localeCompare(b.workflowId) || a.name.localeCompare(b.name));
      if (opts.json) printJson({ items: shown });
      else printList(shown);
      return ExitCode.ok;
    });
  });

  for (const [op, verb] of [
    ['pause', 'paused'],
    ['resume', 'resumed'],
  ] as const) {
    remoteOptions(
      triggers
        .command(`${op} <workflow> <name>`)
        .description(
          op === 'pause'
            ? 'stop a trigger from firing (schedules skip their occurrences; webhooks answer 503; events are ignored)'
            : 'let a paused trigger fire again (occurrences due while paused are not caught up)',
        ),
      true,
    ).action(async (workflow: string, name: string, opts: RemoteOptions) => {
      process.exitCode = await remote(opts, async (request) => {
        await request('POST', pathOf(workflow, name, op));
        if (opts.json) printJson({ workflowId: workflow, name, paused: op === 'pause' });
        else process.stdout.write(`trigger ${workflow}/${name} ${verb}\n`);
        return ExitCode.ok;
      });
    });
  }

  remoteOptions(
    triggers
      .command('run <workflow> <name>')
      .description('fire a trigger now (its flow control applies; a schedule’s overlap policy does not)'),
    true,
  ).action(async (workflow: string, name: string, opts: RemoteOptions) => {
    process.exitCode = await remote(opts, async (request) => {
      const outcome = (await request('POST', pathOf(workflow, name, 'run'))) as Outcome;
      if (opts.json) printJson(outcome);
      else process.stdout.write(`trigger ${workflow}/${name}: ${describeOutcome(outcome)}\n`);
      return okOutcome(outcome) ? ExitCode.ok : ExitCode.failed;
    });
  });

  remoteOptions(
    triggers
      .command('backfill <workflow> <name>')
      .description(
        'fire each occurrence of a schedule in [--from, --to], oldest first, with its overlap policy applied',
      )
      .option('--from <iso>', 'first time of the range (ISO-8601, inclusive)')
      .option('--to <iso>', 'last time of the range (ISO-8601, inclusive)'),
    true,
  ).action(async (workflow: string, name: string, opts: RemoteOptions & { from?: string; to?: string }) => {
    const from = parseTime('--from', opts.from);
    const to = parseTime('--to', opts.to);
    const problem =
      typeof from === 'string'
        ? from
        : typeof to === 'string'
          ? to
          : from > to
            ? '--from must not be after --to'
            : undefined;
    if (problem !== undefined || typeof from === 'string' || typeof to === 'string') {
      process.exitCode = failUsage(problem ?? 'bad range');
      return;
    }
    process.exitCode = await remote(opts, async (request) => {
      const r = (await request('POST', pathOf(workflow, name, 'backfill'), {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
      })) as { occurrences: ({ time: string } & Outcome)[] };
      if (opts.json) printJson(r);
      else {
        for (const o of r.occurrences) process.stdout.write(`${o.time}  ${describeOutcome(o)}\n`);
        process.stdout.write(
          `${r.occurrences.length} occurrence${r.occurrences.length === 1 ? '' : 's'} of ${workflow}/${name} in the range\n`,
        );
      }
      return ExitCode.ok;
    });
  });
}

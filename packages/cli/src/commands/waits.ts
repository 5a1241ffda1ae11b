/**
 * `orchestr8 send-event`, `signal`, `approvals`, `approve` and `reject`: what wakes waiting
 * executions, over the HTTP API of a running `orchestr8 serve` (which holds the wait timers
 * and resumes what it wakes), like `orchestr8 triggers`.
 */
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { failUsage } from '../fail.js';
import { DEFAULT_SERVER_URL, SERVER_OPTION_HELP, serverForRemote } from '../local-server.js';
import { callServerAt, RemoteError } from '../server-call.js';
import { printJson } from './history-shared.js';

interface RemoteOptions {
  server?: string;
  apiKey?: string;
  json?: boolean;
  idempotencyKey?: string;
}

const TALKS_TO =
  `\nTalks to a running \`orchestr8 serve\` (--server, else the project server of \`orchestr8 server start\`, ` +
  `else ${DEFAULT_SERVER_URL}; API key from --api-key or $ORCHESTR8_API_KEY).\n`;

/** Each command's exit codes: only what can happen to it. */
const EXIT_HELP = {
  event:
    'Exit codes: 0 delivered (or delivered before: nothing woken), 1 the server is unreachable or failed,\n' +
    'or an event trigger it matched failed to start its workflow, 2 usage (bad --server or --payload\n' +
    'JSON; the server refused the API key or the request, e.g. an --idempotency-key already used for a\n' +
    'different event).',
  signal:
    'Exit codes: 0 delivered (or delivered before: nothing woken), 1 no such execution, or the server is\n' +
    'unreachable, 2 usage (bad --server or --payload JSON; the server refused the API key or the request,\n' +
    'e.g. an --id or --idempotency-key already used for a different signal).',
  approvals:
    'Lists every pending approval, oldest first: the server answers a page at a time (GET /approvals,\n' +
    '1000 per request) and this follows its nextCursor to the end; --limit <n> stops after n (and\n' +
    'says when more are pending).\n' +
    'Exit codes: 0 listed (also when none is pending), 1 the server is unreachable or failed,\n' +
    '2 usage (bad --server or --limit; the server refused the API key).',
  decision:
    'Exit codes: 0 done, 1 not found, already decided, or the server is unreachable, 2 usage (bad --server\n' +
    'or JSON; the server refused the API key, the request or the form data).',
};

async function request(
  opts: RemoteOptions,
  method: string,
  path: string,
  body?: unknown,
  onHeaders?: (headers: Headers) => void,
): Promise<unknown> {
  const key = opts.idempotencyKey;
  if (key !== undefined && key.trim() === '')
    throw new RemoteError(-1, 'USAGE', '--idempotency-key must not be empty');
  const server = await serverForRemote(opts.server);
  return callServerAt(
    { ...opts, server },
    method,
    path,
    body,
    key === undefined ? undefined : { 'idempotency-key': key },
    onHeaders,
  );
}

interface PendingApproval {
  executionId: string;
  stepId: string;
  workflowId: string;
  title: string;
  approvers?: string[];
  createdAt: string;
}

/** The server's largest page of GET /approvals. */
const APPROVALS_PAGE = 1000;

/**
 * Pending approvals, oldest first, a page at a time (following `nextCursor`): all of them, or
 * the first `limit`; `more` when the server has more after those.
 */
async function pendingApprovals(
  opts: RemoteOptions,
  limit: number | undefined,
): Promise<{ items: PendingApproval[]; more: boolean }> {
  const items: PendingApproval[] = [];
  let cursor: string | undefined;
  do {
    const want = Math.min(APPROVALS_PAGE, limit === undefined ? APPROVALS_PAGE : limit - items.length);
    const q = new URLSearchParams({ limit: String(want) });
    if (cursor !== undefined) q.set('cursor', cursor);
    const page = (await request(opts, 'GET', `/approvals?${q}`)) as {
      items: PendingApproval[];
      nextCursor?: string;
    };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && (limit === undefined || items.length < limit));
  return { items, more: cursor !== undefined };
}

/** Said when the server answered an Idempotency-Key it had seen with its first answer again. */
function replayNote(key: string | undefined): string {
  return `(replayed: the server already handled key ${JSON.stringify(key ?? '')}; this is its first answer)\n`;
}

/** `--idempotency-key`, sent as the Idempotency-Key header. */
function keyOption(what: string): [string, string] {
  return [
    '--idempotency-key <key>',
    `sent as the Idempotency-Key header: the same ${what} again with this key (a retry after a timeout, say) gets the first answer and changes nothing more; a different one with this key is refused (422 IDEMPOTENCY_KEY_REUSED)`,
  ];
}

async function remote(opts: RemoteOptions, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e;
    if (e.status === -1) return failUsage(e.message);
    if (opts.json) printJson({ error: { code: e.code, status: e.status, message: e.message } });
    process.stderr.write(`error ${e.code}: ${e.message}\n`);
    return [400, 401, 403, 422].includes(e.status) ? ExitCode.usage : ExitCode.failed;
  }
}

function remoteCommand(cmd: Command, exits: string): Command {
  return cmd
    .option('--server <url>', SERVER_OPTION_HELP)
    .option('--api-key <key>', 'the API key (default: $ORCHESTR8_API_KEY)')
    .option('--json', 'print the server answer as JSON')
    .addHelpText('after', TALKS_TO + exits);
}

/** A JSON flag value, parsed. */
function parseJson(flag: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new RemoteError(-1, 'USAGE', `${flag} must be JSON, got ${JSON.stringify(text.slice(0, 80))}`);
  }
}

const enc = encodeURIComponent;

function printDelivery(what: string, d: { id: string; accepted: boolean; woken: number }): void {
  process.stdout.write(
    d.accepted
      ? `${what} ${d.id} delivered: woke ${d.woken} wait${d.woken === 1 ? '' : 's'}\n`
      : `${what} ${d.id} was delivered before: nothing woken\n`,
  );
}

/** One event trigger an event matched, as POST /events answers it (with @orchestr8/triggers). */
interface TriggerFiring {
  workflowId: string;
  trigger: string;
  outcome?: { status?: string; executionId?: string; reason?: string; error?: string };
}

interface EventOpts extends RemoteOptions {
  id?: string;
  payload?: string;
}

export function registerWaitCommands(program: Command): void {
  remoteCommand(
    program
      .command('send-event <name>')
      .description(
        'send an event: wakes the waiting steps it matches; kept 5 minutes for waits that register after it',
      )
      .option('--payload <json>', 'the event payload (JSON)')
      .option('--id <id>', 'delivery id: the same id again wakes nothing (default: a new id)')
      .option(
        '--idempotency-key <key>',
        'sent as the Idempotency-Key header (and the delivery id when --id is not given): the same event again with this key gets the first answer; a different event with this key is refused (422 IDEMPOTENCY_KEY_REUSED)',
      ),
    EXIT_HELP.event,
  ).action(async (name: string, opts: EventOpts) => {
    process.exitCode = await remote(opts, async () => {
      const payload = parseJson('--payload', opts.payload);
      let replayed = false;
      const d = (await request(
        opts,
        'POST',
        '/events',
        {
          name,
          ...(opts.id !== undefined ? { id: opts.id } : {}),
          ...(payload !== undefined ? { payload } : {}),
        },
        (h) => {
          replayed = h.get('idempotent-replayed') === 'true';
        },
      )) as { id: string; accepted: boolean; woken: number; triggers?: TriggerFiring[] };
      // The JSON stays the server's answer; the note goes to stderr beside it.
      if (opts.json) printJson(d);
      else printDelivery(`event ${name}`, d);
      // Event triggers it matched: a firing that failed is not an accepted event's success.
      let failed = false;
      for (const t of d.triggers ?? []) {
        const o = t.outcome ?? {};
        failed ||= o.status === 'failed';
        if (opts.json) continue;
        const line = `  trigger ${t.workflowId}/${t.trigger}: ${o.status ?? 'unknown'}${
          o.executionId !== undefined ? ` ${o.executionId}` : ''
        }${o.reason !== undefined ? ` (${o.reason})` : ''}${o.error !== undefined ? `: ${o.error}` : ''}\n`;
        (o.status === 'failed' || o.status === 'dropped' ? process.stderr : process.stdout).write(line);
      }
      if (replayed) (opts.json ? process.stderr : process.stdout).write(replayNote(opts.idempotencyKey));
      return failed ? ExitCode.failed : ExitCode.ok;
    });
  });

  remoteCommand(
    program
      .command('signal <executionId> <name>')
      .description('send an event to one execution only (its steps waiting for an event of this name)')
      .option('--payload <json>', 'the signal payload (JSON)')
      .option('--id <id>', 'delivery id: the same id again wakes nothing')
      .option(...keyOption('signal (when --id is not given)')),
    EXIT_HELP.signal,
  ).action(async (executionId: string, name: string, opts: EventOpts) => {
    process.exitCode = await remote(opts, async () => {
      const payload = parseJson('--payload', opts.payload);
      const d = (await request(opts, 'POST', `/executions/${enc(executionId)}/signals/${enc(name)}`, {
        ...(opts.id !== undefined ? { id: opts.id } : {}),
        ...(payload !== undefined ? { payload } : {}),
      })) as { id: string; accepted: boolean; woken: number };
      if (opts.json) printJson(d);
      else printDelivery(`signal ${name}`, d);
      return ExitCode.ok;
    });
  });

  remoteCommand(
    program
      .command('approvals')
      .description('the steps waiting for a decision, oldest first')
      .option('-n, --limit <n>', 'at most this many (default: all of them)'),
    EXIT_HELP.approvals,
  ).action(async (opts: RemoteOptions & { limit?: string }) => {
    process.exitCode = await remote(opts, async () => {
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1))
        throw new RemoteError(-1, 'USAGE', `--limit must be a positive integer, got "${opts.limit}"`);
      const { items, more } = await pendingApprovals(opts, limit);
      if (opts.json) printJson(more ? { items, more } : { items });
      else if (items.length === 0) process.stdout.write('no pending approvals\n');
      else {
        for (const a of items)
          process.stdout.write(
            `${a.executionId} ${a.stepId}  ${a.title}  (${a.workflowId}, since ${a.createdAt}${a.approvers ? `, approvers: ${a.approvers.join(', ')}` : ''})\n`,
          );
        if (more)
          process.stdout.write(`(more pending: these are the oldest ${items.length}; raise --limit)\n`);
      }
      return ExitCode.ok;
    });
  });

  for (const op of ['approve', 'reject'] as const) {
    remoteCommand(
      program
        .command(`${op} <executionId> <stepId>`)
        .description(
          op === 'approve'
            ? 'approve an approval step: its form data (--data) is checked against the form; the execution continues'
            : 'reject an approval step: it fails with code REJECTED',
        )
        .option('--by <name>', 'who decides (checked against the step approvers)')
        .option('--data <json>', 'the form data (JSON)')
        .option('--comment <text>', 'why')
        .option(...keyOption('decision')),
      EXIT_HELP.decision,
    ).action(
      async (
        executionId: string,
        stepId: string,
        opts: RemoteOptions & { by?: string; data?: string; comment?: string },
      ) => {
        process.exitCode = await remote(opts, async () => {
          const data = parseJson('--data', opts.data);
          const r = await request(
            opts,
            'POST',
            `/executions/${enc(executionId)}/steps/${enc(stepId)}/${op}`,
            {
              ...(opts.by !== undefined ? { by: opts.by } : {}),
              ...(data !== undefined ? { data } : {}),
              ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
            },
          );
          if (opts.json) printJson(r);
          else
            process.stdout.write(
              `step ${stepId} of ${executionId} ${op === 'approve' ? 'approved' : 'rejected'}\n`,
            );
          return ExitCode.ok;
        });
      },
    );
  }
}

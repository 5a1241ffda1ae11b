/**
 * `orchestr8 console`: opens the console of a running `orchestr8 serve` in the default
 * browser (the project's local server, `--url`, or http://127.0.0.1:8088), and the browser
 * opener that `serve --open` and `run --open` share. Where no browser can be started (a
 * server over SSH, a container), the URL is printed instead.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { loadProjectConfig } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage } from '../fail.js';

/** The console page of a server, or of one execution on it. */
export function consoleUrl(server: string, executionId?: string): string {
  const u = new URL(server);
  // A server bound to every interface is reached on loopback from this machine.
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  if (u.hostname === '[::]') u.hostname = '[::1]';
  u.pathname = executionId ? `/console/executions/${encodeURIComponent(executionId)}` : '/';
  u.search = '';
  u.hash = '';
  return u.href;
}

/** The command that opens a URL in the default browser here: $BROWSER, else the platform's. */
function opener(url: string): { cmd: string; args: string[] } {
  const browser = process.env.BROWSER?.trim();
  if (browser) return { cmd: browser, args: [url] };
  if (process.platform === 'darwin') return { cmd: 'open', args: [url] };
  // `start` is a cmd.exe built-in; its first quoted argument is a window title.
  if (process.platform === 'win32')
    return { cmd: 'cmd', args: ['/c', 'start', '""', url.replace(/&/g, '^&')] };
  return { cmd: 'xdg-open', args: [url] };
}

/**
 * Opens `url` in the default browser; resolves false when no opener could be started.
 * The browser is detached: it outlives this process.
 */
export function openInBrowser(url: string): Promise<boolean> {
  const { cmd, args } = opener(url);
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, args, { detached: true, stdio: 'ignore', windowsHide: true });
    } catch {
      resolve(false);
      return;
    }
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

/** Opens the console, or says where it is when no browser can be opened. */
export async function openConsole(
  url: string,
  write = (s: string) => process.stderr.write(s),
): Promise<void> {
  if (await openInBrowser(url)) write(`opened the console: ${url}\n`);
  else write(`open the console in a browser: ${url}\n`);
}

interface ConsoleOptions {
  url?: string;
  print?: boolean;
}

export function registerConsoleCommand(program: Command): void {
  program
    .command('console')
    .description('open the console of a running orchestr8 serve in the default browser')
    .argument('[execution]', 'an execution id: open its page')
    .option(
      '--url <url>',
      "the server (default: the project's local server from orchestr8 server start, else http://127.0.0.1:8088)",
    )
    .option('--print', 'print the URL instead of opening a browser')
    .addHelpText(
      'after',
      '\nThe browser is $BROWSER when set, else the platform default (xdg-open, open, start); when none can be\n' +
        'started, the URL is printed. Exit codes: 0 opened or printed, 1 no server answers, 2 usage.',
    )
    .action(async (execution: string | undefined, opts: ConsoleOptions) => {
      process.exitCode = await consoleCommand(execution, opts);
    });
}

async function consoleCommand(execution: string | undefined, opts: ConsoleOptions): Promise<number> {
  let server = opts.url;
  const local = await import('../local-server.js');
  if (server === undefined) {
    const config = await loadProjectConfig();
    const found = local.findLocalServer(config.dir);
    server = found.running ? found.state.url : 'http://127.0.0.1:8088';
  }
  let url: string;
  try {
    const u = new URL(server);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    url = consoleUrl(server, execution);
  } catch {
    return failUsage(`--url must be an http(s) URL, got "${server}"`);
  }
  const health = await local.getJson(new URL(url).origin, '/healthz', 2000);
  if (health === undefined) {
    process.stderr.write(
      `error: no orchestr8 server answers at ${new URL(url).origin}: start one with "orchestr8 serve" ` +
        '(or "orchestr8 server start"), or give its address with --url\n',
    );
    return ExitCode.failed;
  }
  if (opts.print) {
    process.stdout.write(`${url}\n`);
    return ExitCode.ok;
  }
  await openConsole(url, (s) => process.stdout.write(s));
  return ExitCode.ok;
}

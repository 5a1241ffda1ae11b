import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseDuration } from '@orchestr8/schema';
import {
  loadWorkflowTestFile,
  runWorkflowTest,
  type WorkflowTestCase,
  type WorkflowTestFile,
  type WorkflowTestOutcome,
} from '@orchestr8/testing';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor } from '../capabilities.js';
import { loadProjectConfig } from '../config.js';
import { collect, loadUserAgents, remoteAgentFor } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { UsageError } from '../inputs.js';
import { formatDuration, type Style, styleFor } from '../term.js';

interface TestOptions extends CapabilityFlags {
  agents: string[];
  json?: boolean;
  filter?: string;
  timeout: string;
}

const TEST_FILE = /\.test\.ya?ml$/i;
const EXPLICIT_TEST_FILE = /\.(ya?ml|json)$/i;
/** Cases running at once: each has its own engine; most finish in milliseconds on the fake clock. */
const PARALLEL = 4;

export function registerTestCommand(program: Command): void {
  program
    .command('test')
    .description('run declarative workflow tests (*.test.yaml): mocks, a fake clock, and expectations')
    .argument('[paths...]', 'test files or directories to search (default: the working directory)')
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option('-t, --filter <text>', 'only run tests whose name contains this text')
    .option('--timeout <duration>', 'real time one test may take (unmocked agents run in real time)', '30s')
    .option('--json', 'print the outcome of every test as JSON on stdout')
    .addHelpText(
      'after',
      [
        '',
        'A test file names a workflow, its inputs, mocks that replace agents by id, and what to expect:',
        '  workflow: ./hello.yaml',
        '  inputs: { name: Ada }',
        '  mocks: { "@acme/fetch": [{ fail: RETRYABLE }, { result: { ok: true } }] }',
        '  expect: { status: completed, outputs: { greeting: "Hello, Ada" }, steps: { fetch: { attempts: 2 } } }',
        'Time is a fake clock: backoffs, timeouts and mock delays take no real time. Agents that are not',
        'mocked are the real ones (built-in, standard, and those of orchestr8.config and --agents).',
        'Exit codes: 0 all passed, 1 any failed, 2 usage error, invalid test file, or no test found.',
      ].join('\n'),
    )
    .action(async (paths: string[], opts: TestOptions) => {
      process.exitCode = await testCommand(paths, opts);
    });
}

async function testCommand(paths: string[], opts: TestOptions): Promise<number> {
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(/^\d+$/.test(opts.timeout) ? Number(opts.timeout) : opts.timeout);
  } catch (e) {
    return failUsage(`--timeout: ${(e as Error).message}`);
  }
  try {
    const files = await discover(paths.length > 0 ? paths : ['.']);
    if (files.length === 0) {
      return failUsage(
        `no test files found (*.test.yaml) in ${paths.length > 0 ? paths.join(', ') : process.cwd()}`,
      );
    }
    const config = await loadProjectConfig();
    const agents = await loadUserAgents(opts.agents, config);
    const loaded = await Promise.all(files.map((f) => loadWorkflowTestFile(f)));
    const cases = loaded
      .flatMap((f) => f.cases)
      .filter((c) => opts.filter === undefined || c.name.includes(opts.filter));
    const started = performance.now();
    const outcomes = await runAll(cases, (tc) =>
      runWorkflowTest(tc, {
        agents,
        remoteAgent: remoteAgentFor,
        timeoutMs,
        capabilities: capabilitiesFor(config, opts),
      }),
    );
    const invalid = loaded.filter((f) => f.problems.length > 0);
    if (opts.json) printJson(loaded, outcomes);
    else printReport(loaded, outcomes, performance.now() - started, styleFor(process.stdout));
    if (invalid.length > 0) return ExitCode.usage;
    if (cases.length === 0) return failUsage(`no test matches --filter "${opts.filter}"`);
    return outcomes.every((o) => o.passed) ? ExitCode.ok : ExitCode.failed;
  } catch (e) {
    return reportError(e);
  }
}

/** Test files: the files given, and every *.test.yaml under the directories given (not node_modules or dot folders). */
async function discover(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(p);
    } catch {
      throw new UsageError(`no such file or directory: ${p}`);
    }
    if (s.isDirectory()) await walk(resolve(p), out);
    else if (EXPLICIT_TEST_FILE.test(p)) out.push(resolve(p));
    else throw new UsageError(`${p} is not a test file (.test.yaml, .yaml or .json)`);
  }
  return [...new Set(out)];
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      await walk(join(dir, e.name), out);
    } else if (e.isFile() && TEST_FILE.test(e.name)) out.push(join(dir, e.name));
  }
}

/** Runs the cases a few at a time; outcomes come back in the cases' order. */
async function runAll(
  cases: WorkflowTestCase[],
  run: (tc: WorkflowTestCase) => Promise<WorkflowTestOutcome>,
): Promise<WorkflowTestOutcome[]> {
  const outcomes = new Array<WorkflowTestOutcome>(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      outcomes[i] = await run(cases[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, cases.length) }, worker));
  return outcomes;
}

const rel = (file: string) => relative(process.cwd(), file) || file;

function printReport(
  files: WorkflowTestFile[],
  outcomes: WorkflowTestOutcome[],
  elapsedMs: number,
  s: Style,
): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  for (const f of files) {
    const mine = outcomes.filter((o) => o.file === f.file);
    if (f.problems.length > 0) {
      out(`${s.red('✗')} ${s.bold(rel(f.file))} ${s.red('invalid test file')}`);
      for (const p of f.problems) out(`    ${p}`);
      continue;
    }
    if (mine.length === 0) continue;
    out(s.bold(rel(f.file)));
    for (const o of mine) {
      const time = s.dim(`(${formatDuration(o.durationMs)})`);
      if (o.passed) {
        out(`  ${s.green('✓')} ${o.name} ${time}`);
        continue;
      }
      out(`  ${s.red('✗')} ${o.name} ${time}`);
      for (const failure of o.failures) {
        out(`      ${s.red(failure.path)}: ${failure.message}`);
        if (failure.diff) {
          // The legend heads the diff it explains (a report may hold several, far apart).
          out(`        ${s.green('- expected')}  ${s.red('+ actual')}`);
          for (const line of failure.diff.split('\n')) {
            const colored = line.startsWith('- ')
              ? s.green(line)
              : line.startsWith('+ ')
                ? s.red(line)
                : s.dim(line);
            out(`        ${colored}`);
          }
        }
      }
    }
  }
  const passed = outcomes.filter((o) => o.passed).length;
  const failed = outcomes.length - passed;
  const invalid = files.filter((f) => f.problems.length > 0).length;
  const parts = [
    failed > 0 ? s.red(`${failed} failed`) : undefined,
    `${passed} passed`,
    `${outcomes.length} total`,
  ].filter(Boolean);
  const filesPart = `${files.length} file${files.length === 1 ? '' : 's'}${invalid > 0 ? s.red(`, ${invalid} invalid`) : ''}`;
  out();
  out(`${s.bold('tests')} ${parts.join(', ')} ${s.dim(`(${filesPart}; ${formatDuration(elapsedMs)})`)}`);
}

function printJson(files: WorkflowTestFile[], outcomes: WorkflowTestOutcome[]): void {
  const passed = outcomes.filter((o) => o.passed).length;
  const report = {
    files: files.map((f) => ({ file: rel(f.file), valid: f.problems.length === 0, problems: f.problems })),
    tests: outcomes.map((o) => ({
      file: rel(o.file),
      name: o.name,
      passed: o.passed,
      durationMs: o.durationMs,
      failures: o.failures,
      ...(o.result
        ? { executionId: o.result.executionId, status: o.result.status, outputs: o.result.outputs }
        : {}),
    })),
    summary: {
      passed,
      failed: outcomes.length - passed,
      total: outcomes.length,
      invalidFiles: files.filter((f) => f.problems.length > 0).length,
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

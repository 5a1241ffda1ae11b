/**
 * Generates the reference section of the docs site from the code:
 *
 * - `docs-site/reference/workflow.md` from `schema/workflow.schema.json`;
 * - `docs-site/reference/cli.md` from `createProgram()` of @orchestr8/cli (commander);
 * - `docs-site/reference/http-api.md` from `openApiDocument()` of @orchestr8/server;
 * - `docs-site/reference/errors.md` from ErrorCode, DiagnosticCode and ProblemCode;
 * - `docs-site/reference/agents.md` from builtinAgents and standardAgents;
 * - `docs-site/reference/events.md` from EventType;
 * - `docs-site/reference/metrics.md` from createMetrics() of @orchestr8/observability;
 * - `docs-site/public/{workflow.schema.json,stream.schema.json,openapi.json}` for download.
 *
 * Every source must exist and be non-empty: a missing piece fails the generation, never
 * an empty page. Run with `node --conditions=source --import tsx scripts/docs/generate.ts`
 * (`pnpm docs:gen`); `--check` compares with the files on disk instead of writing them
 * (`pnpm docs:check`, and docs-site/test/reference.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinAgents } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import { DEFAULT_RETRYABLE_CODES, ErrorCode } from '@orchestr8/common';
import { EventType } from '@orchestr8/core';
import { createMetrics } from '@orchestr8/observability/metrics';
import { DiagnosticCode } from '@orchestr8/schema';
import { openApiDocument, ProblemCode } from '@orchestr8/server';
// The CLI is read from its sources (it is an application, not a library this repo depends on).
import { ExitCode } from '../../packages/cli/src/exit-codes.js';
import { createProgram } from '../../packages/cli/src/program.js';
import {
  DIAGNOSTIC_CODE_DESCRIPTIONS,
  ERROR_CODE_DESCRIPTIONS,
  EVENT_TYPE_DESCRIPTIONS,
  EXIT_CODE_DESCRIPTIONS,
  PROBLEM_CODE_DESCRIPTIONS,
} from './code-descriptions.js';
import { constObjectDocs } from './jsdoc.js';
import { isSchema, type JsonSchema, propertiesTable } from './json-schema.js';
import { generatedHeader, prose, table } from './markdown.js';
import { agentsPage } from './pages/agents.js';
import { cliPage, collectCommands } from './pages/cli.js';
import { type CodeDoc, errorsPage } from './pages/errors.js';
import { eventsPage } from './pages/events.js';
import { collectOperations, httpApiPage } from './pages/http-api.js';
import { type MetricDoc, metricsPage } from './pages/metrics.js';
import { collectSchemaFields, workflowSchemaPage } from './pages/workflow-schema.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Generated files live here (and only generated files: anything else here is stale). */
export const REFERENCE_DIR = 'docs-site/reference';
export const PUBLIC_FILES = [
  'docs-site/public/workflow.schema.json',
  'docs-site/public/openapi.json',
  'docs-site/public/stream.schema.json',
];

export interface GeneratedFile {
  /** Relative to the repository root. */
  path: string;
  content: string;
}

/** What the generated reference covers, for the tests and the summary line. */
export interface Coverage {
  schemaFields: string[];
  commands: string[];
  options: string[];
  operations: string[];
  errorCodes: string[];
  agents: string[];
  events: string[];
  metrics: string[];
}

const src = (p: string) => join(ROOT, p);

/**
 * The documented members of an `as const` object: the doc comment beside each member, else
 * an entry of `fallback`. Fails on a member with neither, and on a fallback entry for a
 * member that does not exist (stale words).
 */
function documented(
  what: string,
  object: Record<string, string | number>,
  file: string,
  fallback: Record<string, string>,
): CodeDoc[] {
  const docs = constObjectDocs(src(file), what);
  const names = Object.keys(object);
  if (names.length === 0) throw new Error(`${what} (${file}) has no members`);
  const stale = Object.keys(fallback).filter((k) => !(k in object));
  if (stale.length > 0)
    throw new Error(
      `scripts/docs/code-descriptions.ts describes ${what} members that do not exist: ${stale.join(', ')}`,
    );
  return names.map((name) => {
    const description = docs.get(name) ?? fallback[name];
    if (!description)
      throw new Error(
        `${what}.${name} has no description: add a doc comment in ${file} or an entry in scripts/docs/code-descriptions.ts`,
      );
    return { name, value: String(object[name]), description };
  });
}

/** HTTP statuses the server answers with each problem code, read from its sources. */
function problemStatuses(): Map<string, number[]> {
  const dir = src('packages/server/src');
  const out = new Map<string, Set<number>>();
  const visit = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) visit(p);
      else if (entry.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/\b([1-5]\d\d),\s*ProblemCode\.([A-Z0-9_]+)/g)) {
          const set = out.get(m[2]!) ?? new Set<number>();
          set.add(Number(m[1]));
          out.set(m[2]!, set);
        }
      }
    }
  };
  visit(dir);
  return new Map([...out].map(([k, v]) => [k, [...v].sort((a, b) => a - b)]));
}

/** Formats JSON exactly as `biome format` does, so generated JSON passes `pnpm lint`. */
function biomeJson(path: string, value: unknown): string {
  const bin = join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'biome.cmd' : 'biome');
  const r = spawnSync(bin, ['format', `--stdin-file-path=${path}`], {
    cwd: ROOT,
    input: `${JSON.stringify(value, null, 2)}\n`,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`biome format ${path} failed: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function readJson(path: string): JsonSchema {
  const value: unknown = JSON.parse(readFileSync(src(path), 'utf8'));
  if (!isSchema(value)) throw new Error(`${path} is not a JSON object`);
  return value;
}

export async function generateReference(): Promise<{ files: GeneratedFile[]; coverage: Coverage }> {
  const schemaText = readFileSync(src('schema/workflow.schema.json'), 'utf8');
  const schema = readJson('schema/workflow.schema.json');
  const openapi = openApiDocument() as JsonSchema;
  const program = createProgram();

  const errorCodes = documented(
    'ErrorCode',
    ErrorCode,
    'packages/common/src/errors.ts',
    ERROR_CODE_DESCRIPTIONS,
  );
  const diagnosticCodes = documented(
    'DiagnosticCode',
    DiagnosticCode,
    'packages/schema/src/diagnostics.ts',
    DIAGNOSTIC_CODE_DESCRIPTIONS,
  );
  const statuses = problemStatuses();
  const problemCodes = documented(
    'ProblemCode',
    ProblemCode,
    'packages/server/src/problem.ts',
    PROBLEM_CODE_DESCRIPTIONS,
  ).map((c) => ({ ...c, statuses: statuses.get(c.name) ?? [] }));
  const events = documented('EventType', EventType, 'packages/core/src/events.ts', EVENT_TYPE_DESCRIPTIONS);
  const exitCodes = documented(
    'ExitCode',
    ExitCode,
    'packages/cli/src/exit-codes.ts',
    EXIT_CODE_DESCRIPTIONS,
  );

  // Diagnostic codes the server adds to the loader's (request-shape problems), as its
  // OpenAPI document lists them.
  const components = isSchema(openapi.components) ? openapi.components : {};
  const schemas = isSchema(components.schemas) ? components.schemas : {};
  const diagSchema = isSchema(schemas.Diagnostic) ? schemas.Diagnostic : {};
  const diagProps = isSchema(diagSchema.properties) ? diagSchema.properties : {};
  const diagCode = isSchema(diagProps.code) ? diagProps.code : {};
  const known = new Set(Object.values(DiagnosticCode) as string[]);
  const extraDiagnosticCodes: CodeDoc[] = (Array.isArray(diagCode.examples) ? diagCode.examples : [])
    .filter((c): c is string => typeof c === 'string' && !known.has(c))
    .map((value) => ({
      name: 'HTTP API',
      value,
      description:
        typeof diagSchema.description === 'string' ? diagSchema.description : 'Reported by the HTTP API.',
    }));

  const journalEntry = isSchema(schemas.JournalEntry) ? propertiesTable(schemas.JournalEntry) : undefined;

  const groups = [
    {
      title: 'Built-in agents',
      source: '`builtinAgents` of @orchestr8/agent-base',
      intro: 'Small agents for demos, tests and plumbing.',
      agents: builtinAgents,
    },
    {
      title: 'Standard agents',
      source: '`standardAgents` of @orchestr8/agents',
      intro:
        'Agents that reach the outside world: HTTP calls, shell commands, data transforms, LLM prompts and sub-workflows. ' +
        'The network agents (`@orchestr8/http`, `@orchestr8/llm` and remote agents named by `agent.url`) connect only to public addresses: ' +
        'loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 with the cloud metadata address, fe80::/10), CGNAT (100.64/10), multicast, unspecified (0.0.0.0, ::) and other reserved addresses, ' +
        'in IPv4-mapped form too (`::ffff:127.0.0.1`), fail the step with `EGRESS_DENIED`, never retried. ' +
        'The address checked is the one connected to, after DNS and on every redirect. ' +
        'The operator allows more with `capabilities.egress.allow` in orchestr8.config or `--allow-egress <host|cidr>`: ' +
        'a host name (`api.internal`, or `*.svc.local` for its subdomains), whose addresses are then not checked; an IP address or CIDR range (`127.0.0.1`, `10.0.0.0/8`); or `"*"` for any destination.',
      agents: standardAgents,
    },
  ];

  const metricsRegistry = createMetrics().registry;
  const labels = new Map(
    metricsRegistry
      .getMetricsAsArray()
      .map((m) => [m.name, (m as { labelNames?: readonly string[] }).labelNames ?? []]),
  );
  const metrics: MetricDoc[] = (await metricsRegistry.getMetricsAsJSON()).map((m) => ({
    name: m.name,
    type: String(m.type),
    help: m.help,
    labels: labels.get(m.name) ?? [],
  }));

  const fields = collectSchemaFields(schema).fields;
  const commands = collectCommands(program);
  const operations = collectOperations(openapi);
  const coverage: Coverage = {
    schemaFields: fields.map((f) => f.path),
    commands: commands.map((c) => c.path),
    options: commands.flatMap((c) =>
      c.command
        .createHelp()
        .visibleOptions(c.command)
        .map((o) => `${c.path} ${o.long ?? o.short}`),
    ),
    operations: operations.map((o) => `${o.method} ${o.path}`),
    errorCodes: [...errorCodes, ...diagnosticCodes, ...problemCodes].map((c) => c.value),
    agents: groups.flatMap((g) => g.agents.map((a) => a.id)),
    events: events.map((e) => e.value),
    metrics: metrics.map((m) => m.name),
  };

  const pages: GeneratedFile[] = [
    { path: `${REFERENCE_DIR}/workflow.md`, content: workflowSchemaPage(schema) },
    {
      path: `${REFERENCE_DIR}/cli.md`,
      content: cliPage(
        program,
        exitCodes.map((e) => ({ ...e, value: Number(e.value), doc: e.description })),
      ),
    },
    { path: `${REFERENCE_DIR}/http-api.md`, content: httpApiPage(openapi) },
    {
      path: `${REFERENCE_DIR}/errors.md`,
      content: errorsPage({
        errorCodes,
        retriedByDefault: DEFAULT_RETRYABLE_CODES,
        diagnosticCodes,
        extraDiagnosticCodes,
        problemCodes,
      }),
    },
    { path: `${REFERENCE_DIR}/agents.md`, content: agentsPage(groups) },
    { path: `${REFERENCE_DIR}/events.md`, content: eventsPage(events, journalEntry) },
    { path: `${REFERENCE_DIR}/metrics.md`, content: metricsPage(metrics) },
  ];
  pages.push({ path: `${REFERENCE_DIR}/index.md`, content: indexPage(coverage) });
  pages.push({ path: PUBLIC_FILES[0]!, content: schemaText });
  pages.push({ path: PUBLIC_FILES[1]!, content: biomeJson(PUBLIC_FILES[1]!, openapi) });
  // Written by @orchestr8/streams' generate:schema, which also ships it in that package.
  pages.push({ path: PUBLIC_FILES[2]!, content: readFileSync(src('schema/stream.schema.json'), 'utf8') });
  return { files: pages, coverage };
}

function indexPage(c: Coverage): string {
  return `${[
    generatedHeader('the code (see scripts/docs/generate.ts)'),
    '',
    '# Reference',
    '',
    'Generated from the code on every change, never written by hand: if the code and these pages disagree, the build fails.',
    '',
    table(
      ['Page', 'Covers', 'Generated from'],
      [
        [
          '[Workflow document](./workflow.md)',
          `${c.schemaFields.length} fields`,
          prose('`schema/workflow.schema.json`'),
        ],
        [
          '[CLI](./cli.md)',
          `${c.commands.length} commands, ${c.options.length} options`,
          prose('`createProgram()` of @orchestr8/cli'),
        ],
        [
          '[HTTP API](./http-api.md)',
          `${c.operations.length} operations`,
          prose('`openApiDocument()` of @orchestr8/server'),
        ],
        [
          '[Error codes](./errors.md)',
          `${c.errorCodes.length} codes`,
          prose('`ErrorCode`, `DiagnosticCode`, `ProblemCode`'),
        ],
        ['[Agents](./agents.md)', `${c.agents.length} agents`, prose('`builtinAgents`, `standardAgents`')],
        ['[Journal events](./events.md)', `${c.events.length} event types`, prose('`EventType`')],
        [
          '[Metrics](./metrics.md)',
          `${c.metrics.length} metrics`,
          prose('`createMetrics()` of @orchestr8/observability'),
        ],
      ],
    ),
    '',
    'Downloads: the workflow JSON Schema, [`workflow.schema.json`](/workflow.schema.json), the stream JSON Schema, [`stream.schema.json`](/stream.schema.json), and the OpenAPI document, [`openapi.json`](/openapi.json).',
  ].join('\n')}\n`;
}

/** Files that differ from a fresh generation, are missing, or should not be there. */
export function compareWithDisk(files: readonly GeneratedFile[]): string[] {
  const problems: string[] = [];
  const expected = new Set(files.map((f) => f.path));
  for (const f of files) {
    const p = src(f.path);
    if (!existsSync(p)) problems.push(`${f.path} is missing`);
    else if (readFileSync(p, 'utf8') !== f.content) problems.push(`${f.path} is out of date`);
  }
  const dir = src(REFERENCE_DIR);
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      const rel = `${REFERENCE_DIR}/${name}`;
      if (!expected.has(rel)) problems.push(`${rel} is not generated (remove it, or generate it)`);
    }
  }
  return problems;
}

export function writeFiles(files: readonly GeneratedFile[]): void {
  const expected = new Set(files.map((f) => f.path));
  const dir = src(REFERENCE_DIR);
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (!expected.has(`${REFERENCE_DIR}/${name}`)) rmSync(join(dir, name), { recursive: true });
    }
  }
  for (const f of files) {
    const p = src(f.path);
    mkdirSync(dirname(p), { recursive: true });
    if (!existsSync(p) || readFileSync(p, 'utf8') !== f.content) writeFileSync(p, f.content);
  }
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const { files, coverage } = await generateReference();
  const summary =
    `${coverage.schemaFields.length} fields, ${coverage.commands.length} commands, ${coverage.options.length} options, ` +
    `${coverage.operations.length} endpoints, ${coverage.errorCodes.length} error codes, ${coverage.agents.length} agents, ` +
    `${coverage.events.length} event types, ${coverage.metrics.length} metrics`;
  if (check) {
    const problems = compareWithDisk(files);
    if (problems.length > 0) {
      process.stderr.write(
        `The generated reference is stale:\n${problems.map((p) => `  ${p}`).join('\n')}\nRun: pnpm docs:gen\n`,
      );
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`docs reference up to date (${summary})\n`);
    return;
  }
  writeFiles(files);
  process.stdout.write(`wrote ${files.map((f) => relative(ROOT, src(f.path))).join(', ')}\n(${summary})\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    // Imported packages (the store driver, the server) may keep handles open: exit explicitly.
    () => process.exit(),
    (e: unknown) => {
      process.stderr.write(`docs generation failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

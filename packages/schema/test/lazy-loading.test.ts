import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LoadResult, loadWorkflow } from '../src/index.js';

/**
 * The package loads the YAML parsers, filtrex, croner and zod only when a document needs them.
 * Which modules a process has loaded can only be seen in a fresh process, so each case runs
 * a script in a child node (with tsx, on the sources) that reports what it loaded and what
 * the loader returned; the results are compared with this process's, where everything is
 * loaded already.
 */

const pkg = join(import.meta.dirname, '..');

const JSON_DOC = JSON.stringify({
  version: '1.0.0',
  metadata: { id: 'lazy', name: 'lazy' },
  steps: [
    { id: 'a', agent: '@orchestr8/echo', input: { v: 1 } },
    { id: 'b', agent: '@orchestr8/echo', input: { v: '${steps.a.output.v}' }, dependencies: ['a'] },
  ],
});

// A semantic problem (an unknown dependency) whose line:column needs the position-keeping parse.
const YAML_WITH_PROBLEM = [
  'version: "1.0.0"',
  'metadata: { id: lazy, name: lazy }',
  'steps:',
  '  - id: a',
  '    agent: "@orchestr8/echo"',
  '  - id: b',
  '    agent: "@orchestr8/echo"',
  '    dependencies: [a, zz]',
  '',
].join('\n');

const YAML_SYNTAX_ERROR = 'version: "1.0.0"\nmetadata:\n\tid: x\n';

const YAML_WITH_CONDITION_AND_SCHEDULE = [
  'version: "1.0.0"',
  'metadata: { id: lazy, name: lazy }',
  'triggers:',
  '  - name: nightly',
  '    schedule: { cron: "61 2 * * *" }',
  'steps:',
  '  - id: a',
  '    agent: "@orchestr8/echo"',
  '    condition: { if: "inputs.n > 1" }',
  '',
].join('\n');

const LIBRARIES = ['yaml', 'js-yaml', 'filtrex', 'croner'];

interface ChildReport {
  /** Per step of the script: the libraries loaded after it (zod by its global marker). */
  loaded: string[][];
  results: LoadResult[];
}

/** Runs `loadWorkflow` on each text in turn in a fresh process; reports what was loaded after each. */
function inFreshProcess(texts: { text: string; format: 'json' | 'yaml' }[]): ChildReport {
  const script = `
    import { createRequire } from 'node:module';
    import { loadWorkflow } from './src/index.ts';
    const require = createRequire(import.meta.url);
    const libraries = ${JSON.stringify(LIBRARIES)};
    const loadedNow = () => [
      ...libraries.filter((l) => Object.keys(require.cache).some((p) => p.includes('/node_modules/' + l + '/'))),
      ...('__zod_globalConfig' in globalThis ? ['zod'] : []),
    ];
    const loaded = [loadedNow()];
    const results = [];
    for (const { text, format } of ${JSON.stringify(texts)}) {
      const r = loadWorkflow(text, { format });
      delete r.workflow;
      results.push(r);
      loaded.push(loadedNow());
    }
    console.log(JSON.stringify({ loaded, results }));
  `;
  const child = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: pkg, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 },
  );
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as ChildReport;
}

function withoutWorkflow(r: LoadResult): LoadResult {
  const { workflow: _w, ...rest } = r;
  return JSON.parse(JSON.stringify(rest)) as LoadResult;
}

// Each case starts a node with tsx (about a second, more on a loaded machine).
describe('libraries a document does not need are not loaded', { timeout: 60_000 }, () => {
  it('a JSON document loads no YAML parser, filtrex, croner or zod; a YAML one after it reports the same positions', () => {
    const report = inFreshProcess([
      { text: JSON_DOC, format: 'json' },
      { text: YAML_WITH_PROBLEM, format: 'yaml' },
      { text: YAML_SYNTAX_ERROR, format: 'yaml' },
    ]);
    expect(report.loaded[0]).toEqual([]);
    expect(report.results[0]!.ok).toBe(true);
    expect(report.loaded[1]).toEqual([]);
    // The fast parse (js-yaml) took the document; the problem's line needed the `yaml` parse.
    expect(report.loaded[2]).toEqual(['yaml', 'js-yaml']);
    expect(report.results[1]!.diagnostics).toEqual(
      withoutWorkflow(loadWorkflow(YAML_WITH_PROBLEM, { format: 'yaml' })).diagnostics,
    );
    expect(report.results[1]!.diagnostics).toMatchObject([
      { code: 'E_UNKNOWN_STEP', pointer: '/steps/1/dependencies/1', line: 8, column: 23 },
    ]);
    expect(report.results[2]).toEqual(withoutWorkflow(loadWorkflow(YAML_SYNTAX_ERROR, { format: 'yaml' })));
    expect(report.results[2]!.diagnostics[0]).toMatchObject({ code: 'E_PARSE', line: 3, column: 1 });
    expect(report.loaded[3]).toEqual(['yaml', 'js-yaml']);
  });

  it('conditions load filtrex and schedules croner on first use, with the same results', () => {
    const report = inFreshProcess([{ text: YAML_WITH_CONDITION_AND_SCHEDULE, format: 'yaml' }]);
    expect(report.loaded[0]).toEqual([]);
    expect(report.loaded[1]).toEqual(expect.arrayContaining(['filtrex', 'croner']));
    expect(report.loaded[1]).not.toContain('zod');
    expect(report.results[0]).toEqual(
      withoutWorkflow(loadWorkflow(YAML_WITH_CONDITION_AND_SCHEDULE, { format: 'yaml' })),
    );
    expect(report.results[0]!.diagnostics).toMatchObject([
      { code: 'E_TRIGGER', pointer: '/triggers/0/schedule/cron', line: 5 },
    ]);
  });
});

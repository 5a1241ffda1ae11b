// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * Loading + validating + compiling a 1,000-step document (chain + fan-out, templates on
 * every step). Budget: 20 ms median for the JSON text on a 2-core machine; the same document
 * as YAML within 2x the JSON figure of the same run (`vsJsonLoad`).
 * Run alone: pnpm --filter @orchestr8/schema bench; the root `pnpm bench` calls runSchemaBench.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { stringify } from 'yaml';

type SchemaModule = typeof import('../src/index.js');
type ExpressionModule = typeof import('../src/expression.js');

/**
 * The code that ships is dist/ (`pnpm bench` builds it first); TypeScript run through tsx
 * is ~1.5x slower. Use dist when it is newer than every source file, else src.
 */
async function loadModules(): Promise<{
  from: 'dist' | 'src';
  schema: SchemaModule;
  expression: ExpressionModule;
}> {
  const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  const fresh =
    existsSync(dist) &&
    readdirSync(src).every((f) => statSync(`${src}${f}`).mtimeMs <= statSync(dist).mtimeMs);
  if (fresh) {
    return {
      from: 'dist',
      schema: (await import(new URL('../dist/index.js', import.meta.url).href)) as SchemaModule,
      expression: (await import(new URL('../dist/expression.js', import.meta.url).href)) as ExpressionModule,
    };
  }
  return {
    from: 'src',
    schema: await import('../src/index.js'),
    expression: await import('../src/expression.js'),
  };
}

/** 100 blocks of: a hub, 8 parallel workers reading it, a join reading all 8 (1,000 steps). */
export function generateBenchDocument(blocks = 100): Record<string, unknown> {
  const steps: Record<string, unknown>[] = [];
  let previousJoin: string | undefined;
  for (let b = 0; b < blocks; b++) {
    const hub = `hub-${b}`;
    steps.push({
      id: hub,
      agent: '@orchestr8/echo',
      ...(previousJoin ? { dependencies: [previousJoin] } : {}),
      input: {
        block: b,
        carried: previousJoin ? `\${steps.${previousJoin}.output.total ?? 0}` : '${inputs.seed ?? 0}',
        label: `block ${b} of \${inputs.name ?? "bench"}`,
      },
    });
    const workers: string[] = [];
    for (let w = 0; w < 8; w++) {
      const id = `work-${b}-${w}`;
      workers.push(id);
      steps.push({
        id,
        name: `Worker ${w} of block ${b}`,
        agent: { id: '@orchestr8/sleep', config: { pool: 'bench' } },
        dependencies: [hub],
        input: { ms: 0, value: { from: `\${steps.${hub}.output.carried}`, n: w, tags: ['a', 'b'] } },
        ...(w === 0
          ? {
              forEach: { items: `\${steps.${hub}.output.list ?? []}`, concurrency: 4 },
              condition: { if: `steps.${hub}.output.block >= 0 and inputs.mode != "skip"` },
            }
          : {}),
        ...(w === 1 ? { onError: 'continue', policies: { retry: { maxAttempts: 5 }, timeout: '5s' } } : {}),
      });
    }
    const join = `join-${b}`;
    steps.push({
      id: join,
      agent: '@orchestr8/echo',
      dependencies: workers,
      input: {
        total: `\${steps.${workers[2]}.output.n ?? 0}`,
        all: workers.slice(1).map((w) => `\${steps.${w}.output}`),
        summary: `joined \${steps.${workers[3]}.output.n} and \${steps.${workers[4]}.output.from}`,
      },
    });
    previousJoin = join;
  }
  return {
    version: '1.0.0',
    metadata: { id: 'bench-1000', name: 'Bench: 1,000 steps' },
    inputs: {
      type: 'object',
      properties: { seed: { type: 'number' }, name: { type: 'string' }, mode: { type: 'string' } },
    },
    steps,
    outputs: { total: `\${steps.${previousJoin}.output.total}` },
    policies: {
      resilience: { retry: { maxAttempts: 3 }, circuitBreaker: { failureThreshold: 5 } },
      timeout: { perStep: '30s' },
    },
  };
}

/**
 * Graph shapes whose validation must stay linear in the size of the document: a chain (each
 * step depends on and reads the one before) and a fan-in (one join of `n - 1` independent
 * steps, reading each of them).
 */
export function generateShapeDocument(shape: 'chain' | 'fan-in', n: number): Record<string, unknown> {
  const steps: Record<string, unknown>[] = [];
  if (shape === 'chain') {
    for (let i = 0; i < n; i++)
      steps.push({
        id: `s${i}`,
        agent: '@orchestr8/echo',
        ...(i > 0 ? { dependencies: [`s${i - 1}`], input: { v: `\${steps.s${i - 1}.output.v}` } } : {}),
      });
  } else {
    for (let i = 0; i < n - 1; i++) steps.push({ id: `s${i}`, agent: '@orchestr8/echo', input: { v: i } });
    const ids = steps.map((s) => s.id as string);
    steps.push({
      id: 'join',
      agent: '@orchestr8/echo',
      dependencies: ids,
      input: { all: ids.map((id) => `\${steps.${id}.output.v}`) },
    });
  }
  return { version: '1.0.0', metadata: { id: `${shape}-${n}` }, steps };
}

const JSON_LOAD = 'load 1,000-step JSON text, cold';
const YAML_LOAD = 'load 1,000-step YAML text, cold (fast parse)';
const YAML_SLOW_LOAD = 'load 1,000-step YAML text with a %YAML directive, cold (yaml package parse)';

/** Rows of the bench; the YAML rows carry their ratio to the JSON load of the same run (target: at most 2). */
export async function runSchemaBench(
  options: { time?: number } = {},
): Promise<{ name: string; medianMs: number; vsJsonLoad?: number }[]> {
  const { from, schema, expression } = await loadModules();
  const { loadWorkflow, validateWorkflowObject } = schema;
  const { clearExpressionCache } = expression;
  const doc = generateBenchDocument();
  const json = JSON.stringify(doc, null, 2);
  const yaml = stringify(doc);
  const check = (r: { ok: boolean; diagnostics: unknown[] }) => {
    if (!r.ok) throw new Error(`bench document invalid: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
  };
  // Warm: the first call compiles the ajv validator (once per process).
  check(loadWorkflow(json, { format: 'json' }));
  const bench = new Bench({ time: options.time ?? 1000, warmup: true });
  // "cold": conditions are compiled from scratch, as when a document is loaded for the
  // first time; "warm": the same conditions were compiled before (reloads, resumes).
  bench
    .add(`${JSON_LOAD}: parse + schema + semantics + compile + hash [${from}]`, () => {
      clearExpressionCache();
      const r = loadWorkflow(json, { format: 'json' });
      check(r);
      if (r.workflow!.hash.length !== 64) throw new Error('no hash');
    })
    .add(`load 1,000-step JSON text, warm expression cache, no hash [${from}]`, () => {
      check(loadWorkflow(json, { format: 'json' }));
    })
    .add(`validate 1,000-step parsed object, cold, no hash [${from}]`, () => {
      clearExpressionCache();
      check(validateWorkflowObject(doc));
    })
    .add(`${YAML_LOAD}: parse + schema + semantics + compile + hash [${from}]`, () => {
      clearExpressionCache();
      const r = loadWorkflow(yaml, { format: 'yaml' });
      check(r);
      if (r.workflow!.hash.length !== 64) throw new Error('no hash');
    })
    // A `%YAML` directive makes the fast parse decline: the position-keeping `yaml` parse, as before it.
    .add(`${YAML_SLOW_LOAD} [${from}]`, () => {
      clearExpressionCache();
      check(loadWorkflow(`%YAML 1.2\n---\n${yaml}`, { format: 'yaml' }));
    });
  await bench.run();

  // Large shapes: seconds per run before validation was made linear, so a few runs each.
  const shapes = new Bench({ time: 0, iterations: options.time === undefined ? 5 : 3, warmupIterations: 1 });
  for (const [shape, n] of [
    ['fan-in', 20_000],
    ['chain', 20_000],
    ['chain', 100_000],
  ] as const) {
    const big = generateShapeDocument(shape, n);
    shapes.add(`validate ${n.toLocaleString('en')}-step ${shape} (parsed object) [${from}]`, () => {
      check(validateWorkflowObject(big));
    });
  }
  await shapes.run();
  const rows = [...bench.tasks, ...shapes.tasks].map((t) => {
    const r = t.result as { latency?: { p50?: number } } | undefined;
    return { name: t.name, medianMs: r?.latency?.p50 ?? Number.NaN } as {
      name: string;
      medianMs: number;
      vsJsonLoad?: number;
    };
  });
  const jsonMs = rows.find((r) => r.name.startsWith(JSON_LOAD))!.medianMs;
  for (const r of rows) if (r.name.includes('YAML')) r.vsJsonLoad = r.medianMs / jsonMs;
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const doc = JSON.stringify(generateBenchDocument(), null, 2);
  console.log(`document: ${(doc.length / 1024).toFixed(0)} KB of JSON, 1,000 steps`);
  for (const r of await runSchemaBench()) {
    const ratio = r.vsJsonLoad === undefined ? '' : `  (${r.vsJsonLoad.toFixed(2)}x the JSON load)`;
    console.log(`${r.medianMs.toFixed(2)} ms median  ${r.name}${ratio}`);
  }
}

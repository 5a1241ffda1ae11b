// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in the generated YAML is orchestr8 template syntax
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';

interface InitOptions {
  force?: boolean;
}

/**
 * `orchestr8 init [dir]`: a project that runs and passes its tests at once: a config, a
 * workflow, an agent of its own, and declarative tests for both.
 */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('create an orchestr8 project: config, a workflow, an agent, and tests that pass')
    .argument('[dir]', 'the project directory (created if needed)', '.')
    .option('-f, --force', 'overwrite files that already exist')
    .addHelpText(
      'after',
      '\nThen: cd <dir> && npx orchestr8 run workflows/hello.yaml && npx orchestr8 test\nExit codes: 0 created, 2 files exist (use --force) or usage.',
    )
    .action(async (dir: string, opts: InitOptions) => {
      process.exitCode = await initCommand(dir, opts);
    });
}

async function initCommand(dir: string, opts: InitOptions): Promise<number> {
  try {
    const root = resolve(dir);
    const name = packageName(basename(root));
    const scope = scopeOf(name);
    const files = scaffold(name, scope);
    const existing = Object.keys(files).filter((f) => existsSync(join(root, f)));
    if (existing.length > 0 && !opts.force) {
      return failUsage(
        `${root} already has ${existing.join(', ')}; nothing was written (use --force to overwrite)`,
      );
    }
    await writeFiles(root, files);
    const shown = relative(process.cwd(), root) || '.';
    const out = process.stdout;
    out.write(`created an orchestr8 project in ${shown}: ${Object.keys(files).join(', ')}\n\nnext:\n`);
    if (shown !== '.') out.write(`  cd ${shown}\n`);
    out.write('  npx orchestr8 run workflows/hello.yaml --input name=Ada\n');
    out.write('  npx orchestr8 test\n');
    out.write('  npx orchestr8 create agent <name>     # another agent, with its test\n');
    out.write(
      '  npm install                          # for editor types; the CLI provides @orchestr8/* until then\n',
    );
    return ExitCode.ok;
  } catch (e) {
    return reportError(e);
  }
}

export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [file, text] of Object.entries(files)) {
    const path = join(root, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
}

/** A valid npm package name from a directory name. */
export function packageName(dir: string): string {
  const n = dir
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|[._-]+$/g, '');
  return n || 'orchestr8-app';
}

/** The scope of the project's agent ids (`@<scope>/<name>`), from its package name. */
export function scopeOf(pkgName: string): string {
  const bare = pkgName.startsWith('@') ? pkgName.slice(1).split('/')[0]! : pkgName;
  return packageName(bare).replace(/^[^a-z0-9]+/, '') || 'app';
}

/** The scope for a project directory: from its package.json name, else "app". */
export function projectScope(dir: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name !== '') return scopeOf(pkg.name);
  } catch {
    // no package.json: the default scope
  }
  return 'app';
}

function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** `word-count` -> `wordCount`: the export name of an agent. */
export function exportName(name: string): string {
  const camel = name
    .replace(/[-._]+([a-z0-9])/g, (_m, c: string) => c.toUpperCase())
    .replace(/[^A-Za-z0-9]/g, '');
  return /^[0-9]/.test(camel) ? `agent${camel}` : camel;
}

/** A new agent module and its declarative test. */
export function agentFiles(
  id: string,
  name: string,
  language: 'ts' | 'js',
): { module: string; test: string } {
  const exported = exportName(name);
  const ts = language === 'ts';
  const typeName = exported.charAt(0).toUpperCase() + exported.slice(1);
  const types = ts
    ? `export interface ${typeName}Input {\n  text: string;\n}\n\nexport interface ${typeName}Output {\n  text: string;\n  length: number;\n}\n\n`
    : '';
  const generic = ts ? `<${typeName}Input, ${typeName}Output>` : '';
  const module = `import { defineAgent } from '@orchestr8/agent-base';

${types}/**
 * ${name}: replace this with what the agent does. The same code runs in-process (\`orchestr8 run\`)
 * and as a service (\`orchestr8 agent serve\`); throw RetryableError / TerminalError from
 * @orchestr8/common to tell the engine whether a failure is worth retrying.
 */
export const ${exported} = defineAgent${generic}({
  id: '${id}',
  version: '0.1.0',
  description: 'Returns the text it is given and its length.',
  inputSchema: {
    type: 'object',
    properties: { text: { type: 'string' } },
    required: ['text'],
  },
  outputSchema: {
    type: 'object',
    properties: { text: { type: 'string' }, length: { type: 'integer' } },
    required: ['text', 'length'],
  },
  async execute(input, ctx) {
    ctx.logger.debug('${name} called', { stepId: ctx.stepId, attempt: ctx.attempt });
    return { text: input.text, length: input.text.length };
  },
});
`;
  const test = `# Run with: npx orchestr8 test
name: "${id} returns the text and its length"
workflow:
  version: "1.0.0"
  metadata: { id: ${name.replace(/[^A-Za-z0-9_.-]/g, '-')}-test }
  steps:
    - id: call
      agent: "${id}"
      input: { text: hello }
expect:
  status: completed
  steps:
    call: { status: completed, output: { text: hello, length: 5 } }
`;
  return { module, test };
}

function scaffold(name: string, scope: string): Record<string, string> {
  const v = cliVersion();
  const shoutId = `@${scope}/shout`;
  return {
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: {
          start: 'orchestr8 run workflows/hello.yaml',
          test: 'orchestr8 test',
          validate: 'orchestr8 validate workflows/hello.yaml',
        },
        dependencies: { '@orchestr8/agent-base': `^${v}`, '@orchestr8/common': `^${v}` },
        devDependencies: { '@orchestr8/cli': `^${v}`, typescript: '^5.9.0' },
      },
      null,
      2,
    )}\n`,
    'orchestr8.config.ts': `import { defineConfig } from '@orchestr8/cli/config';

/** Found by every orchestr8 command run in this directory or below it. */
export default defineConfig({
  // Modules exporting agents made with defineAgent (paths relative to this file).
  agents: ['./agents/index.ts'],
  // Where executions are recorded: sqlite:<path> or memory (--store and ORCHESTR8_STORE win).
  store: 'sqlite:./.orchestr8/orchestr8.db',
  defaults: { concurrency: 4 },
});
`,
    'agents/index.ts': `// Every agent of the project; orchestr8.config.ts loads this module.
export { shout } from './shout.js';
`,
    'agents/shout.ts': `import { defineAgent } from '@orchestr8/agent-base';

export interface ShoutInput {
  text: string;
}

export interface ShoutOutput {
  text: string;
}

/** Upper-cases a text and adds an exclamation mark. */
export const shout = defineAgent<ShoutInput, ShoutOutput>({
  id: '${shoutId}',
  version: '0.1.0',
  description: 'Upper-cases a text and adds "!".',
  inputSchema: {
    type: 'object',
    properties: { text: { type: 'string', minLength: 1 } },
    required: ['text'],
  },
  outputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  execute(input) {
    return { text: \`\${input.text.toUpperCase()}!\` };
  },
});
`,
    'agents/shout.test.yaml': `# An agent test: a one-step workflow written inline. Run with: npx orchestr8 test
name: shout upper-cases and exclaims
workflow:
  version: "1.0.0"
  metadata: { id: shout-test }
  steps:
    - id: shout
      agent: "${shoutId}"
      input: { text: hello }
expect:
  steps:
    shout: { status: completed, output: { text: HELLO! } }
`,
    'workflows/hello.yaml': `# Greets someone with a built-in agent, then shouts the greeting with this project's agent.
# Run with: npx orchestr8 run workflows/hello.yaml --input name=Ada
version: "1.0.0"
metadata:
  id: hello
  name: Hello
  description: Greets someone and shouts the greeting.
inputs:
  type: object
  properties:
    name: { type: string, default: world }
steps:
  - id: greet
    agent: "@orchestr8/hello-world"
    input: { name: "\${inputs.name}" }
  - id: shout
    agent: "${shoutId}"
    dependencies: [greet]
    input: { text: "\${steps.greet.output.result}" }
    policies:
      retry: { maxAttempts: 3, baseDelayMs: 1s }
outputs:
  greeting: "\${steps.shout.output.text}"
`,
    'workflows/hello.test.yaml': `# Declarative tests of workflows/hello.yaml. Run with: npx orchestr8 test
# Mocks replace agents by id; time is a fake clock, so retries take no time.
workflow: ./hello.yaml
tests:
  - name: greets and shouts
    inputs: { name: Ada }
    expect:
      status: completed
      outputs: { greeting: "HELLO, ADA!" }
      steps:
        shout: { status: completed, attempts: 1 }

  - name: retries the shout when it fails once
    inputs: { name: Ada }
    mocks:
      "${shoutId}":
        - { fail: RETRYABLE, message: busy }
        - { result: { text: HI ADA! } }
    expect:
      outputs: { greeting: HI ADA! }
      steps:
        shout: { attempts: 2 }
      journal:
        - { type: step.retrying, stepId: shout, count: 1 }
`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        include: ['agents', 'orchestr8.config.ts'],
      },
      null,
      2,
    )}\n`,
    'README.md': `# ${name}

An [orchestr8](https://github.com/orchestr8) project.

| path | what |
| --- | --- |
| \`orchestr8.config.ts\` | the agent modules and the store every \`orchestr8\` command here uses |
| \`agents/\` | this project's agents (\`defineAgent\`), each with a \`*.test.yaml\` |
| \`workflows/\` | workflow documents and their tests |

\`\`\`sh
npx orchestr8 run workflows/hello.yaml --input name=Ada   # run it (recorded in .orchestr8/)
npx orchestr8 test                                        # run every *.test.yaml
npx orchestr8 create agent word-count                     # add an agent and its test
npx orchestr8 agent serve                                 # serve the agents over HTTP (POST /agents/<id>/execute)
\`\`\`

A step calls a served agent by URL: \`agent: { id: "${shoutId}", url: "http://127.0.0.1:8090" }\`.
`,
    '.gitignore': 'node_modules/\n.orchestr8/\n',
  };
}

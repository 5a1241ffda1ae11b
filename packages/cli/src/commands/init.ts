// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in the generated YAML is orchestr8 template syntax
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
      '\nThen, in <dir>: orchestr8 run workflows/hello.yaml, orchestr8 test. Nothing to install: the CLI\nprovides the @orchestr8/* packages the project imports.\nExit codes: 0 created, 2 files exist (use --force) or usage.',
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
    const cmd = cliCommand();
    const out = process.stdout;
    out.write(`created an orchestr8 project in ${shown}: ${Object.keys(files).join(', ')}\n\nnext:\n`);
    // Each line runs as printed: nothing to install (the CLI provides @orchestr8/* to the
    // project's config and agents), and the command is one that reaches this CLI.
    if (shown !== '.') out.write(`  cd ${shellQuote(shown)}\n`);
    out.write(`  ${cmd} run workflows/hello.yaml --input name=Ada\n`);
    out.write(`  ${cmd} test\n`);
    out.write(`  ${cmd} create agent word-count    # another agent, with its test\n`);
    if (cmd !== 'orchestr8')
      out.write(
        '\n(orchestr8 is not on your PATH: `pnpm install:global` in the orchestr8 repository puts it there)\n',
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

/**
 * How to call this CLI from anywhere: `orchestr8` when that name on the PATH is this CLI
 * (installed with npm, or linked), else `node <this CLI's bin>`.
 */
export function cliCommand(): string {
  const self = [
    new URL('../../bin/orchestr8.js', import.meta.url),
    new URL('../bin.js', import.meta.url),
  ].map((u) => realOrSelf(fileURLToPath(u)));
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const found = join(dir, process.platform === 'win32' ? 'orchestr8.cmd' : 'orchestr8');
    if (!existsSync(found)) continue;
    // The first `orchestr8` on the PATH is the one a shell runs: this CLI, or another one.
    if (self.includes(realOrSelf(found))) return 'orchestr8';
    break;
  }
  return `node ${shellQuote(self[0]!)}`;
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
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
  const test = `# Run with: orchestr8 test
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
      },
      null,
      2,
    )}\n`,
    'orchestr8.config.ts': `import { defineConfig } from '@orchestr8/cli/config';

/** Found by every orchestr8 command run in this directory or below it. */
export default defineConfig({
  // Modules exporting agents made with defineAgent (paths relative to this file).
  agents: ['./agents/index.ts'],
  // Where every orchestr8 command here records and reads executions: sqlite:<path> or memory
  // (--store and ORCHESTR8_STORE win).
  store: 'sqlite:./.orchestr8/orchestr8.db',
  defaults: { concurrency: 4 },
  // What workflow documents may reach on this machine; a document can narrow these grants,
  // never widen them (docs: concepts/security). By default only public network addresses.
  // capabilities: {
  //   egress: { allow: ['127.0.0.1', 'localhost'] }, // a local service, for the http agent
  //   env: ['APP_*'], // environment variables documents may read as \${env.APP_...}
  // },
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
    'agents/shout.test.yaml': `# An agent test: a one-step workflow written inline. Run with: orchestr8 test
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
# Run with: orchestr8 run workflows/hello.yaml --input name=Ada
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
    'workflows/hello.test.yaml': `# Declarative tests of workflows/hello.yaml. Run with: orchestr8 test
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
orchestr8 run workflows/hello.yaml --input name=Ada   # run it (recorded in .orchestr8/)
orchestr8 test                                        # run every *.test.yaml
orchestr8 create agent word-count                     # add an agent and its test
orchestr8 agent serve                                 # serve the agents over HTTP (POST /agents/<id>/execute)
\`\`\`

There is nothing to install: the \`@orchestr8/*\` imports of \`orchestr8.config.ts\` and \`agents/\`
resolve to the orchestr8 CLI's own packages (the \`orchestr8\` command comes from
\`pnpm install:global\` in the orchestr8 repository).

A step calls a served agent by URL: \`agent: { id: "${shoutId}", url: "http://127.0.0.1:8090" }\`.
`,
    '.gitignore': 'node_modules/\n.orchestr8/\n',
  };
}

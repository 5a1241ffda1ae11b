// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in the generated YAML is orchestr8 template syntax
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CONFIG_FILE_NAMES } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';

interface InitOptions {
  force?: boolean;
}

/**
 * Files a project has of its own: init creates them when missing and never overwrites them
 * (package.json gets the orchestr8 scripts it lacks, nothing else changes).
 */
const PROJECT_FILES = new Set(['package.json', 'tsconfig.json', 'README.md', '.gitignore']);

/**
 * `orchestr8 init [dir]`: a project that runs and passes its tests at once: a config, a
 * workflow, an agent of its own, and declarative tests for both.
 */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('create an orchestr8 project: config, a workflow, an agent, and tests that pass')
    .argument('[dir]', 'the project directory (created if needed)', '.')
    .option(
      '-f, --force',
      'overwrite the orchestr8 files init writes (config, sample workflow and agent); never package.json, README.md, tsconfig.json or .gitignore',
    )
    .addHelpText(
      'after',
      '\nThen, in <dir>: orchestr8 run workflows/hello.yaml, orchestr8 test. Nothing to install: the CLI\nprovides the @orchestr8/* packages the project imports. In an existing project, init adds its\nscripts to package.json and keeps every other field and file of yours.\nExit codes: 0 created, 2 orchestr8 files exist already or usage.',
    )
    .action(async (dir: string, opts: InitOptions) => {
      process.exitCode = await initCommand(dir, opts);
    });
}

interface PackageJson {
  file: string;
  text: string;
  json: Record<string, unknown>;
}

async function initCommand(dir: string, opts: InitOptions): Promise<number> {
  try {
    const root = resolve(dir);
    const shown = relative(process.cwd(), root) || '.';
    const pkg = readPackageJson(join(root, 'package.json'));
    if (typeof pkg === 'string') return failUsage(pkg);
    const pkgName = pkg?.json.name;
    const name = typeof pkgName === 'string' && pkgName !== '' ? pkgName : packageName(basename(root));
    const scope = scopeOf(name);
    // Node loads .ts and .js as ES modules only under "type": "module"; only ES modules can use
    // the CLI's own @orchestr8/* packages (config.ts), so a project without it gets .mts files.
    const esm = pkg === undefined || pkg.json.type === 'module';
    const files = scaffold(name, scope, esm ? 'ts' : 'mts');
    const owned = Object.keys(files).filter((f) => !PROJECT_FILES.has(f));
    const taken = owned.filter((f) => existsSync(join(root, f)));
    // Another config name would be found before (or instead of) the one init writes.
    const otherConfigs = CONFIG_FILE_NAMES.filter((f) => !(f in files) && existsSync(join(root, f)));
    if (otherConfigs.length > 0 || (taken.length > 0 && !opts.force)) {
      const found = [...otherConfigs, ...taken];
      return failUsage(
        `${root} already has ${found.join(', ')}, so it is an orchestr8 project already; nothing was written` +
          ' (to start again, move these files away first)',
      );
    }

    const created: string[] = [];
    const overwritten: string[] = [];
    const kept: string[] = [];
    const toWrite: Record<string, string> = {};
    for (const [file, text] of Object.entries(files)) {
      const exists = existsSync(join(root, file));
      if (PROJECT_FILES.has(file) && exists) {
        if (file !== 'package.json') kept.push(file);
        continue;
      }
      toWrite[file] = text;
      (exists ? overwritten : created).push(file);
    }
    const merge = pkg ? mergePackageJson(pkg) : undefined;
    await writeFiles(root, toWrite);
    if (pkg && merge?.text !== undefined) await writeFile(pkg.file, merge.text);

    const out = process.stdout;
    out.write(`${pkg ? 'added orchestr8 to the project' : 'created an orchestr8 project'} in ${shown}:\n`);
    if (created.length > 0) out.write(`  created      ${created.join(', ')}\n`);
    if (overwritten.length > 0) out.write(`  overwritten  ${overwritten.join(', ')} (--force)\n`);
    if (merge)
      out.write(
        `  ${merge.text !== undefined ? 'merged ' : 'kept   '}      package.json: ${merge.summary}\n`,
      );
    if (kept.length > 0) out.write(`  kept         ${kept.join(', ')} (yours, unchanged)\n`);
    if (pkg && !esm) {
      const type =
        pkg.json.type === undefined
          ? 'has no "type": "module"'
          : `says "type": ${JSON.stringify(pkg.json.type)}`;
      out.write(
        `\nnote: package.json ${type}, so Node loads .ts and .js files here as CommonJS, and CommonJS\n` +
          "modules cannot use the orchestr8 CLI's own @orchestr8/* packages. init wrote the config and the\n" +
          'agents as .mts (ES modules): write agent modules as .mts too (orchestr8 create agent does), or add\n' +
          '"type": "module" to package.json yourself if the rest of the project allows it.\n',
      );
    }
    if (
      kept.includes('.gitignore') &&
      !/^\/?\.orchestr8\/?\s*$/m.test(readFileSync(join(root, '.gitignore'), 'utf8'))
    )
      out.write('\nnote: add .orchestr8/ (the local store) to your .gitignore\n');

    const cmd = cliCommand();
    out.write('\nnext:\n');
    // Each line runs as printed: nothing to install (the CLI provides @orchestr8/* to the
    // project's config and agents), and the command is one that reaches this CLI.
    if (shown !== '.') out.write(`  cd ${shellQuote(shown)}\n`);
    out.write(`  ${cmd} run workflows/hello.yaml --input name=Ada\n`);
    out.write(`  ${cmd} test\n`);
    out.write(`  ${cmd} create agent word-count    # another agent, with its test\n`);
    if (cmd.startsWith('node '))
      out.write(
        '\n(orchestr8 is not on your PATH: `pnpm install:global` in the orchestr8 repository puts it there)\n',
      );
    return ExitCode.ok;
  } catch (e) {
    return reportError(e);
  }
}

/** The directory's package.json; undefined when there is none, a message when it is not a JSON object. */
function readPackageJson(file: string): PackageJson | string | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  let json: unknown;
  try {
    // npm and Node read a package.json that starts with a byte-order mark; so does this.
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    return `${file} is not valid JSON (${(e as Error).message}); nothing was written`;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return `${file} does not hold a JSON object; nothing was written`;
  return { file, text, json: json as Record<string, unknown> };
}

/**
 * An existing package.json with the orchestr8 scripts it lacks: every field it has stays as it
 * is (its "type" too). `text` is undefined when there is nothing to add.
 */
function mergePackageJson(pkg: PackageJson): { text?: string; summary: string } {
  const json = structuredClone(pkg.json);
  const added: string[] = [];
  const keptScripts: string[] = [];
  let note = '';
  if (json.scripts === undefined) json.scripts = {};
  const scripts = json.scripts;
  if (typeof scripts !== 'object' || scripts === null || Array.isArray(scripts)) {
    note = '"scripts" is not an object, left as it is';
  } else {
    const own = scripts as Record<string, unknown>;
    for (const [k, v] of Object.entries(SCRIPTS)) {
      if (k in own) keptScripts.push(k);
      else {
        own[k] = v;
        added.push(k);
      }
    }
  }
  const parts = [
    ...(added.length > 0 ? [`added scripts ${added.join(', ')}`] : []),
    ...(keptScripts.length > 0 ? [`kept your scripts ${keptScripts.join(', ')}`] : []),
    ...(note ? [note] : []),
    'every other field unchanged',
  ];
  if (added.length === 0) return { summary: parts.join('; ') };
  const indent = /^[ \t]+(?=")/m.exec(pkg.text)?.[0] ?? '  ';
  const eol = pkg.text.includes('\r\n') ? '\r\n' : '\n';
  const body = JSON.stringify(json, null, indent).replace(/\n/g, eol);
  const bom = pkg.text.startsWith('\uFEFF') ? '\uFEFF' : '';
  return {
    text: `${bom}${body}${/\n$/.test(pkg.text) || pkg.text === '' ? eol : ''}`,
    summary: parts.join('; '),
  };
}

const SCRIPTS = {
  start: 'orchestr8 run workflows/hello.yaml',
  test: 'orchestr8 test',
  validate: 'orchestr8 validate workflows/hello.yaml',
};

export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [file, text] of Object.entries(files)) {
    const path = join(root, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
}

/**
 * How to call this CLI from anywhere: `orchestr8` when that name on the PATH is this CLI
 * (installed with npm, or linked), `npx orchestr8` when it is there only because npm put it
 * there for this command, else `node <this CLI's bin>`.
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
    if (!self.includes(realOrSelf(found))) break;
    return viaNpm(dir) ? 'npx orchestr8' : 'orchestr8';
  }
  return `node ${shellQuote(self[0]!)}`;
}

/**
 * Whether `dir` is on the PATH only for this command: `npx` and `npm exec` (npm_command=exec,
 * npm_lifecycle_event=npx) and npm scripts (npm_lifecycle_event=<script>) put node_modules/.bin
 * directories (the project's, or npx's cache) in front of the PATH of the command they run; a
 * login shell does not have them, so `orchestr8` there is "command not found". Both signals are
 * needed: the npm variables alone may be inherited by a command run from a script while the CLI
 * is installed globally, and the directory alone may be on a PATH someone set up by hand.
 */
function viaNpm(dir: string): boolean {
  const env = process.env;
  const npm = env.npm_command !== undefined || env.npm_lifecycle_event !== undefined;
  return npm && /(^|[\\/])node_modules[\\/]\.bin[\\/]?$/.test(dir);
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

/** The files of a new project; its config and agents as `.mts` in a project that is not ESM. */
function scaffold(name: string, scope: string, ext: 'ts' | 'mts'): Record<string, string> {
  const shoutId = `@${scope}/shout`;
  const config = `orchestr8.config.${ext}`;
  return {
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: SCRIPTS,
      },
      null,
      2,
    )}\n`,
    [config]: `import { defineConfig } from '@orchestr8/cli/config';

/** Found by every orchestr8 command run in this directory or below it. */
export default defineConfig({
  // Modules exporting agents made with defineAgent (paths relative to this file).
  agents: ['./agents/index.${ext}'],
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
    [`agents/index.${ext}`]: `// Every agent of the project; ${config} loads this module.
export { shout } from './shout.${ext === 'ts' ? 'js' : 'mjs'}';
`,
    [`agents/shout.${ext}`]: `import { defineAgent } from '@orchestr8/agent-base';

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
        include: ['agents', config],
      },
      null,
      2,
    )}\n`,
    'README.md': `# ${name}

An [orchestr8](https://github.com/orchestr8) project.

| path | what |
| --- | --- |
| \`${config}\` | the agent modules and the store every \`orchestr8\` command here uses |
| \`agents/\` | this project's agents (\`defineAgent\`), each with a \`*.test.yaml\` |
| \`workflows/\` | workflow documents and their tests |

\`\`\`sh
orchestr8 run workflows/hello.yaml --input name=Ada   # run it (recorded in .orchestr8/)
orchestr8 test                                        # run every *.test.yaml
orchestr8 create agent word-count                     # add an agent and its test
orchestr8 agent serve                                 # serve the agents over HTTP (POST /agents/<id>/execute)
\`\`\`

There is nothing to install: the \`@orchestr8/*\` imports of \`${config}\` and \`agents/\`
resolve to the orchestr8 CLI's own packages (the \`orchestr8\` command comes from
\`pnpm install:global\` in the orchestr8 repository).

A step calls a served agent by URL: \`agent: { id: "${shoutId}", url: "http://127.0.0.1:8090" }\`.
`,
    '.gitignore': 'node_modules/\n.orchestr8/\n',
  };
}

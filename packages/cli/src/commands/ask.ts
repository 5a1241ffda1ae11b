import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { type LlmOutput, llmAgent } from '@orchestr8/agents';
import { ensureError } from '@orchestr8/common';
import { type AgentContext, createEngine, resolveCapabilities, type Store } from '@orchestr8/core';
import type { PlanPrompt } from '@orchestr8/mcp';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { type CapabilityFlags, capabilitiesFor, capabilityOptions } from '../capabilities.js';
import { configuredStore, loadProjectConfig } from '../config.js';
import { buildRegistry, collect, remoteAgentFor } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { openStore, STORE_OPTION_HELP } from '../open-store.js';

interface AskOptions extends CapabilityFlags {
  provider?: string;
  model?: string;
  maxRepairs: string;
  yes?: boolean;
  save?: string;
  json?: boolean;
  store?: string;
  agents: string[];
}

const LLM_ID = '@orchestr8/llm';
/** Plans are longer than most answers. */
const PLAN_MAX_TOKENS = 4096;

export function registerAskCommand(program: Command): void {
  const cmd = program
    .command('ask')
    .description(
      "plan a workflow from a sentence with an LLM and the project's agents, validate it, show it, and run it once confirmed",
    )
    .argument('<request>', 'what the workflow should do, e.g. "list python files and count them"')
    .option('--provider <name>', 'the LLM provider: anthropic or openai (default: $ORCHESTR8_LLM_PROVIDER)')
    .option('--model <model>', "the provider's model (default: the provider's default)")
    .option(
      '--max-repairs <n>',
      'how many times validation errors go back to the LLM for a corrected plan',
      '2',
    )
    .option('-y, --yes', 'run the plan without asking')
    .option('--save <file>', 'write the plan to this file (YAML)')
    .option('--json', 'print the plan (and the result, when it runs) as JSON on stdout')
    .option('--store <url>', STORE_OPTION_HELP)
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .addHelpText(
      'after',
      "\nThe plan is validated as any document is, and the operator's capabilities apply to it as to a written one:\n" +
        'a plan that asks for more than they grant is refused before anything runs. Without --yes the plan runs only\n' +
        "when confirmed on a terminal. The host's key (ANTHROPIC_API_KEY, OPENAI_API_KEY) goes only to the provider\n" +
        'or to capabilities.agents["@orchestr8/llm"].baseUrl. Exit codes: 0 planned (and, when run, completed),\n' +
        '1 the LLM call or the execution failed, 2 usage, no valid plan after the repairs, or a capability refused.',
    )
    .action(async (request: string, opts: AskOptions) => {
      process.exitCode = await askCommand(request, opts);
    });
  capabilityOptions(cmd);
}

function llmContext(
  config: Record<string, unknown>,
  capabilities: AgentContext['capabilities'],
): AgentContext {
  const log = (level: string) => (message: string) => process.stderr.write(`llm ${level}: ${message}\n`);
  return {
    signal: new AbortController().signal,
    executionId: 'ask',
    stepId: 'plan',
    attempt: 1,
    idempotencyKey: randomUUID(),
    config,
    capabilities,
    logger: { debug: () => {}, info: () => {}, warn: log('warning'), error: log('error') },
    runWorkflow: () => Promise.reject(new Error('not available while planning')),
  };
}

/**
 * The planner's LLM: the llm agent's providers, with the operator's `@orchestr8/llm` grants
 * (its base URL receives the host's key) and egress policy. `orchestr8 serve --ask` uses it too.
 */
export function llmPlanner(
  capabilities: AgentContext['capabilities'],
  choice: { provider?: string; model?: string } = {},
): (prompt: PlanPrompt) => Promise<unknown> {
  const ctx = llmContext({ ...(capabilities.agents[LLM_ID] ?? {}) }, capabilities);
  return async (prompt) => {
    const out = (await llmAgent.execute(
      {
        ...prompt,
        ...(choice.provider !== undefined ? { provider: choice.provider } : {}),
        ...(choice.model !== undefined ? { model: choice.model } : {}),
        maxTokens: PLAN_MAX_TOKENS,
      },
      ctx,
    )) as LlmOutput;
    return out.json;
  };
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function askCommand(request: string, opts: AskOptions): Promise<number> {
  const { planText, planWorkflow, plannerAgent } = await import('@orchestr8/mcp');
  const maxRepairs = Number(opts.maxRepairs);
  if (!/^\d+$/.test(opts.maxRepairs) || maxRepairs > 10)
    return failUsage(`--max-repairs must be an integer from 0 to 10, got "${opts.maxRepairs}"`);
  const provider = opts.provider ?? process.env.ORCHESTR8_LLM_PROVIDER;
  // The llm agent's offline `mock` makes up data that fits a schema: never a workflow that works.
  if (provider?.trim().toLowerCase() === 'mock')
    return failUsage(
      'the mock provider cannot plan: it makes up data that fits a schema, not a workflow that does what you ask; use --provider anthropic or openai',
    );
  if (request.trim() === '')
    return failUsage(
      'say what the workflow should do, e.g. orchestr8 ask "list python files and count them"',
    );
  let store: Store | undefined;
  try {
    const config = await loadProjectConfig();
    const registry = await buildRegistry(opts.agents, config);
    const capabilities = capabilitiesFor(config, opts);
    const resolved = resolveCapabilities(capabilities);
    // Checks plans as `run` checks files: this host's agents and the operator's grants.
    const checker = createEngine({ registry, capabilities });
    const llm = llmPlanner(resolved, opts);
    let round = 0;
    const plan = await planWorkflow({
      request,
      agents: registry.list().map(plannerAgent),
      maxRepairs,
      compile: (doc) => checker.compile(doc),
      authorize: (w) => checker.authorize(w),
      complete(prompt) {
        if (round++ > 0 && !opts.json)
          process.stderr.write(
            `the plan is not valid yet: asking for a corrected one (repair ${round - 1})\n`,
          );
        return llm(prompt);
      },
    });
    const workflow = plan.workflow;
    const yaml = toYaml(workflow.document, { lineWidth: 0 });
    if (opts.save) writeFileSync(opts.save, yaml);
    const repairs = plan.attempts.length - 1;
    if (!opts.json) {
      process.stdout.write(`${yaml}\n${planText(workflow)}`);
      process.stderr.write(
        `plan valid${repairs > 0 ? ` after ${repairs} repair${repairs === 1 ? '' : 's'}` : ''}${opts.save ? `; saved to ${opts.save}` : ''}\n`,
      );
    }
    const run =
      opts.yes === true || (!opts.json && process.stdin.isTTY === true && (await confirm('Run it? [y/N] ')));
    if (!run) {
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ plan: workflow.document, repairs }, null, 2)}\n`);
      else process.stderr.write('not run (pass --yes to run without asking)\n');
      return ExitCode.ok;
    }
    store = await openStore(configuredStore(opts.store, config));
    const engine = createEngine({ registry, store, capabilities, remoteAgent: remoteAgentFor });
    const result = await engine.execute(workflow);
    await engine.shutdown();
    const shown = {
      executionId: result.executionId,
      status: result.status,
      outputs: result.outputs,
      ...(result.error ? { error: result.error } : {}),
    };
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify({ plan: workflow.document, repairs, result: shown }, null, 2)}\n`,
      );
    else {
      process.stderr.write(`execution ${result.executionId} ${result.status}\n`);
      if (result.error) process.stderr.write(`error ${result.error.code}: ${result.error.message}\n`);
      process.stdout.write(`${JSON.stringify(result.outputs ?? null, null, 2)}\n`);
    }
    return result.status === 'completed' ? ExitCode.ok : ExitCode.failed;
  } catch (e) {
    const err = ensureError(e);
    if (err.code === 'VALIDATION' && /^no valid workflow/.test(err.message)) {
      process.stderr.write(`error VALIDATION: ${err.message}\n`);
      return ExitCode.usage;
    }
    return reportError(e);
  } finally {
    await store?.close().catch(() => {});
  }
}

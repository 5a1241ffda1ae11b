import { defineAgent } from '@orchestr8/agent-base';
import { ErrorCode, Orchestr8Error, TerminalError, ValidationError } from '@orchestr8/common';
import type { AgentContext } from '@orchestr8/core';
import { abortError, excerpt, isRecord } from './http-util.js';
import { mockText, synthesize } from './llm-mock.js';
import { buildPrompt, type LlmPrompt, readJson, repairMessage, schemaProblem } from './llm-prompt.js';
import { type ChatMessage, type ChatResponse, providers, type Usage } from './llm-providers.js';

export interface LlmInput extends LlmPrompt {
  /** "anthropic", "openai" (or any OpenAI-compatible server) or "mock". */
  provider?: string;
  model?: string;
  temperature?: number;
  maxTokens?: number;
  /** Redacted in the journal. Prefer `${secrets.NAME}` over a literal. */
  apiKey?: string;
  baseUrl?: string;
  timeoutMs?: number;
  /** mock provider only: the exact answer (a string as is, anything else as JSON). */
  mockResponse?: unknown;
}

export interface LlmOutput {
  text: string;
  /** The parsed and validated answer, when an outputSchema was given. */
  json?: unknown;
  model: string;
  provider: string;
  usage?: Usage;
  /** True when the first answer failed the outputSchema and the correction was used. */
  repaired?: boolean;
}

export const LLM_PROVIDER_ENV = 'ORCHESTR8_LLM_PROVIDER';
export const LLM_DEFAULT_MAX_TOKENS = 1024;
export const LLM_DEFAULT_TIMEOUT_MS = 120_000;
const PROVIDERS = ['anthropic', 'openai', 'mock'];

const stringOrList = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };

const inputSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    provider: { type: 'string', enum: PROVIDERS },
    model: { type: 'string', minLength: 1 },
    role: { type: 'string' },
    goals: stringOrList,
    constraints: stringOrList,
    instructions: { type: 'string' },
    outputSchema: { type: 'object' },
    examples: { type: 'array' },
    input: {},
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    maxTokens: { type: 'integer', minimum: 1 },
    apiKey: { type: 'string' },
    baseUrl: { type: 'string', pattern: '^https?://' },
    timeoutMs: { type: 'number', exclusiveMinimum: 0 },
    mockResponse: {},
  },
} as const;

const outputSchema = {
  type: 'object',
  required: ['text', 'model', 'provider'],
  properties: {
    text: { type: 'string' },
    json: {},
    model: { type: 'string' },
    provider: { type: 'string' },
    usage: {
      type: 'object',
      properties: { inputTokens: { type: 'integer' }, outputTokens: { type: 'integer' } },
    },
    repaired: { type: 'boolean' },
  },
} as const;

function pick<T>(input: T | undefined, config: unknown, guard: (v: unknown) => v is T): T | undefined {
  if (input !== undefined) return input;
  return guard(config) ? config : undefined;
}
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function providerName(input: LlmInput, config: Readonly<Record<string, unknown>>): string {
  const name = pick(input.provider, config.provider, isString) ?? process.env[LLM_PROVIDER_ENV];
  if (name === undefined || name === '') {
    throw new ValidationError(
      `llm: no provider: set provider (${PROVIDERS.join(', ')}) in the step input or agent config, or ${LLM_PROVIDER_ENV}`,
    );
  }
  if (!PROVIDERS.includes(name)) {
    throw new ValidationError(`llm: unknown provider "${name}" (expected ${PROVIDERS.join(', ')})`);
  }
  return name;
}

/**
 * The host's own key (`ANTHROPIC_API_KEY`, ...) goes only to the base URL the operator chose
 * (`capabilities.agents["@orchestr8/llm"].baseUrl`, else the provider's): a document that
 * points the agent elsewhere must bring its own key, or it could collect the host's.
 */
function hostKey(
  provider: { keyEnv: string; defaultBaseUrl: string },
  name: string,
  baseUrl: string,
  ctx: AgentContext,
): string | undefined {
  const key = process.env[provider.keyEnv];
  if (!key) return undefined;
  const operator = ctx.capabilities.agents[LLM_ID]?.baseUrl;
  const trusted = typeof operator === 'string' && operator !== '' ? operator : provider.defaultBaseUrl;
  if (sameBase(baseUrl, trusted)) return key;
  throw new Orchestr8Error(
    ErrorCode.CAPABILITY_DENIED,
    `llm: the host's ${provider.keyEnv} is sent only to ${trusted}, not to ${baseUrl} (${name}); ` +
      'pass apiKey (e.g. ${secrets.NAME}) for another endpoint, or the operator sets ' +
      `capabilities.agents["${LLM_ID}"].baseUrl in orchestr8.config`,
    { retryable: false },
  );
}

function sameBase(a: string, b: string): boolean {
  const norm = (u: string) => u.replace(/\/+$/, '');
  return norm(a) === norm(b);
}

const LLM_ID = '@orchestr8/llm';

/**
 * Sends a structured prompt (role, goals, constraints, instructions, examples, input) to
 * Anthropic, an OpenAI-compatible endpoint, or the offline mock. With an `outputSchema`
 * the answer must be JSON satisfying it; one correction is requested when it does not.
 */
export const llmAgent = defineAgent<LlmInput, LlmOutput>({
  id: '@orchestr8/llm',
  version: '1.0.0',
  description:
    'Prompts an LLM (anthropic, openai-compatible, or an offline mock), optionally for schema-checked JSON.',
  inputSchema,
  outputSchema,
  secretFields: ['apiKey'],
  target(input, config) {
    let name: string;
    try {
      name = providerName(input, config);
    } catch {
      return undefined;
    }
    const provider = providers[name];
    if (provider === undefined) return name;
    try {
      return new URL(pick(input.baseUrl, config.baseUrl, isString) ?? provider.defaultBaseUrl).host;
    } catch {
      return name;
    }
  },
  async execute(input, ctx) {
    const name = providerName(input, ctx.config);
    const schema = input.outputSchema;
    if (schema !== undefined && !isRecord(schema)) {
      throw new ValidationError('llm: outputSchema must be a JSON Schema object');
    }
    const prompt = buildPrompt(input);
    if (ctx.signal.aborted) throw abortError(ctx.signal);
    if (name === 'mock') return runMock(input, prompt, ctx);
    const provider = providers[name]!;
    const config = ctx.config;
    const baseUrl = pick(input.baseUrl, config.baseUrl, isString) ?? provider.defaultBaseUrl;
    const apiKey = pick(input.apiKey, config.apiKey, isString) ?? hostKey(provider, name, baseUrl, ctx);
    if (!apiKey && provider.requiresKey(baseUrl)) {
      throw new TerminalError(
        `llm: no API key for ${name}: set ${provider.keyEnv}, or pass apiKey in the step input ` +
          '(e.g. apiKey: ${secrets.NAME} with context.secretRefs)',
        { code: 'AUTH' },
      );
    }
    const request = {
      system: prompt.system,
      model: pick(input.model, config.model, isString) ?? provider.defaultModel,
      maxTokens: pick(input.maxTokens, config.maxTokens, isNumber) ?? LLM_DEFAULT_MAX_TOKENS,
      ...optional('temperature', pick(input.temperature, config.temperature, isNumber)),
    };
    const settings = {
      apiKey,
      baseUrl,
      timeoutMs: pick(input.timeoutMs, config.timeoutMs, isNumber) ?? LLM_DEFAULT_TIMEOUT_MS,
      signal: ctx.signal,
      egress: ctx.capabilities.egress,
    };
    const messages: ChatMessage[] = [{ role: 'user', content: prompt.user }];
    const first = await provider.complete({ ...request, messages }, settings);
    if (schema === undefined) return output(first, name);
    const checked = check(schema, first.text);
    if (checked.ok) return { ...output(first, name), json: checked.value };
    ctx.logger.info('llm: the answer does not satisfy outputSchema; asking once for a correction', {
      stepId: ctx.stepId,
      problem: checked.problem,
    });
    messages.push(
      { role: 'assistant', content: first.text },
      { role: 'user', content: repairMessage(checked.problem) },
    );
    const second = await provider.complete({ ...request, messages }, settings);
    const usage = addUsage(first.usage, second.usage);
    const again = check(schema, second.text);
    if (!again.ok) throw invalidOutput(name, again.problem, second.text, true);
    return { ...output(second, name), json: again.value, repaired: true, ...optional('usage', usage) };
  },
});

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function output(r: ChatResponse, provider: string): LlmOutput {
  return { text: r.text, model: r.model, provider, ...optional('usage', r.usage) };
}

function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return { inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens };
}

type Checked = { ok: true; value: unknown } | { ok: false; problem: string };

function check(schema: Record<string, unknown>, text: string): Checked {
  const read = readJson(text);
  if (!read.ok) return read;
  const problem = schemaProblem(schema, read.value);
  if (problem === undefined) return { ok: true, value: read.value };
  if (problem.includes('the schema itself is invalid')) {
    throw new ValidationError(`llm: outputSchema is not a valid JSON Schema (${problem})`);
  }
  return { ok: false, problem };
}

function invalidOutput(provider: string, problem: string, text: string, afterRepair: boolean): TerminalError {
  return new TerminalError(
    `llm: the ${provider} answer does not satisfy outputSchema${afterRepair ? ', even after a correction was asked for' : ''}: ${problem}`,
    { code: 'LLM_INVALID_OUTPUT', details: { problem, answer: excerpt(text, 1000) } },
  );
}

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function runMock(input: LlmInput, prompt: { system: string; user: string }, ctx: AgentContext): LlmOutput {
  const model = pick(input.model, ctx.config.model, isString) ?? 'mock';
  const schema = input.outputSchema;
  let text: string;
  if (input.mockResponse !== undefined) {
    text = typeof input.mockResponse === 'string' ? input.mockResponse : JSON.stringify(input.mockResponse);
  } else if (schema !== undefined) {
    text = JSON.stringify(synthesize(schema, input));
  } else {
    text = mockText(input);
  }
  const usage = {
    inputTokens: estimateTokens(prompt.system) + estimateTokens(prompt.user),
    outputTokens: estimateTokens(text),
  };
  const out: LlmOutput = { text, model, provider: 'mock', usage };
  if (schema === undefined) return out;
  const checked = check(schema, text);
  if (!checked.ok) {
    const hint =
      input.mockResponse === undefined ? ' (the mock cannot satisfy every schema: give mockResponse)' : '';
    throw invalidOutput('mock', `${checked.problem}${hint}`, text, false);
  }
  return { ...out, json: checked.value };
}

/**
 * The LLM providers behind `@orchestr8/llm`: Anthropic's Messages API and any
 * OpenAI-compatible chat-completions endpoint. Each maps the provider's failures to error
 * codes the retry policy understands.
 */
import { ErrorCode, type Orchestr8Error, RetryableError, TerminalError } from '@orchestr8/common';
import { egressDispatcher } from './egress.js';
import {
  excerpt,
  fetchFailure,
  isRecord,
  linkDeadline,
  readCapped,
  retryAfterOf,
  safeUrl,
} from './http-util.js';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  system: string;
  messages: ChatMessage[];
  model: string;
  maxTokens: number;
  temperature?: number;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ChatResponse {
  text: string;
  model: string;
  usage?: Usage;
}

export interface ProviderSettings {
  apiKey: string | undefined;
  baseUrl: string;
  timeoutMs: number | undefined;
  signal: AbortSignal;
  /**
   * The operator's egress policy (`ctx.capabilities.egress`): documents can set baseUrl, so
   * it reaches only public addresses unless this allows more. Absent: public addresses only.
   */
  egress?: { readonly allow: readonly string[] };
}

export interface Provider {
  readonly name: string;
  readonly defaultBaseUrl: string;
  readonly defaultModel: string;
  /** Where the key comes from when neither input nor config gives one. */
  readonly keyEnv: string;
  /** Whether a call without a key is refused before it is sent. */
  requiresKey(baseUrl: string): boolean;
  complete(request: ChatRequest, settings: ProviderSettings): Promise<ChatResponse>;
}

const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

async function postJson(
  provider: string,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  settings: ProviderSettings,
): Promise<unknown> {
  const where = `${provider}: POST ${safeUrl(url)}`;
  const deadline = linkDeadline(settings.signal, settings.timeoutMs, where);
  try {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: deadline.signal,
        dispatcher: egressDispatcher(settings.egress?.allow ?? []),
      });
    } catch (e) {
      throw fetchFailure(e, deadline.signal, where);
    }
    let text: string;
    try {
      text = (await readCapped(res, MAX_RESPONSE_BYTES)).text;
    } catch (e) {
      throw fetchFailure(e, deadline.signal, where);
    }
    if (!res.ok) throw providerError(provider, res, text);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new RetryableError(`${where} answered ${res.status} with a body that is not JSON`, {
        code: ErrorCode.HTTP_5XX,
        details: { status: res.status, body: excerpt(text, 500) },
      });
    }
  } finally {
    deadline.dispose();
  }
}

/**
 * 429, 5xx (Anthropic's 529 "overloaded" included) and 408 are retryable, with Retry-After
 * honoured; 401/403 are AUTH; any other 4xx (a bad request, an unknown model) is terminal.
 */
export function providerError(provider: string, res: Response, text: string): Orchestr8Error {
  let type: string | undefined;
  let detail: string | undefined;
  try {
    const body = JSON.parse(text) as unknown;
    const err = isRecord(body) && isRecord(body.error) ? body.error : undefined;
    if (err) {
      type = typeof err.type === 'string' ? err.type : typeof err.code === 'string' ? err.code : undefined;
      detail = typeof err.message === 'string' ? err.message : undefined;
    }
  } catch {
    // Not JSON: the status says enough.
  }
  const status = res.status;
  const message = `${provider} answered ${status}${type ? ` ${type}` : ''}: ${detail ?? excerpt(text.trim(), 300)}`;
  const details = { provider, status, ...(type ? { type } : {}) };
  const retryAfterMs = retryAfterOf(res.headers);
  const after = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (status === 429) return new RetryableError(message, { code: ErrorCode.HTTP_429, details, ...after });
  if (status >= 500 || type === 'overloaded_error') {
    return new RetryableError(message, { code: ErrorCode.HTTP_5XX, details, ...after });
  }
  if (status === 408) return new RetryableError(message, { code: ErrorCode.TIMEOUT, details, ...after });
  if (status === 401 || status === 403) return new TerminalError(message, { code: 'AUTH', details });
  return new TerminalError(message, { code: ErrorCode.HTTP_4XX, details });
}

function malformed(provider: string, what: string): RetryableError {
  return new RetryableError(`${provider}: unexpected response (${what})`, { code: ErrorCode.HTTP_5XX });
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export const anthropicProvider: Provider = {
  name: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com',
  defaultModel: 'claude-sonnet-4-5',
  keyEnv: 'ANTHROPIC_API_KEY',
  requiresKey: () => true,
  async complete(req, settings) {
    const body: Record<string, unknown> = {
      model: req.model,
      max_tokens: req.maxTokens,
      messages: req.messages,
    };
    if (req.system) body.system = req.system;
    if (req.temperature !== undefined) body.temperature = req.temperature;
    const data = await postJson(
      'anthropic',
      `${trimSlash(settings.baseUrl)}/v1/messages`,
      { 'x-api-key': settings.apiKey ?? '', 'anthropic-version': '2023-06-01' },
      body,
      settings,
    );
    if (!isRecord(data) || !Array.isArray(data.content)) throw malformed('anthropic', 'no content');
    const text = data.content
      .filter(
        (b): b is { type: 'text'; text: string } =>
          isRecord(b) && b.type === 'text' && typeof b.text === 'string',
      )
      .map((b) => b.text)
      .join('');
    const out: ChatResponse = { text, model: typeof data.model === 'string' ? data.model : req.model };
    const u = data.usage;
    if (isRecord(u) && typeof u.input_tokens === 'number' && typeof u.output_tokens === 'number') {
      out.usage = { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
    }
    return out;
  },
};

export const openaiProvider: Provider = {
  name: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  defaultModel: 'gpt-4o-mini',
  keyEnv: 'OPENAI_API_KEY',
  // Self-hosted OpenAI-compatible servers often take no key; OpenAI itself always does.
  requiresKey: (baseUrl) => safeUrl(baseUrl).startsWith('https://api.openai.com'),
  async complete(req, settings) {
    const messages: { role: string; content: string }[] = [];
    if (req.system) messages.push({ role: 'system', content: req.system });
    messages.push(...req.messages);
    const body: Record<string, unknown> = { model: req.model, messages, max_tokens: req.maxTokens };
    if (req.temperature !== undefined) body.temperature = req.temperature;
    const headers: Record<string, string> = {};
    if (settings.apiKey) headers.authorization = `Bearer ${settings.apiKey}`;
    const data = await postJson(
      'openai',
      `${trimSlash(settings.baseUrl)}/chat/completions`,
      headers,
      body,
      settings,
    );
    const choice = isRecord(data) && Array.isArray(data.choices) ? data.choices[0] : undefined;
    const message = isRecord(choice) ? choice.message : undefined;
    if (!isRecord(data) || !isRecord(message)) throw malformed('openai', 'no choices[0].message');
    const text = typeof message.content === 'string' ? message.content : '';
    const out: ChatResponse = { text, model: typeof data.model === 'string' ? data.model : req.model };
    const u = data.usage;
    if (isRecord(u) && typeof u.prompt_tokens === 'number' && typeof u.completion_tokens === 'number') {
      out.usage = { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens };
    }
    return out;
  },
};

export const providers: Readonly<Record<string, Provider>> = {
  anthropic: anthropicProvider,
  openai: openaiProvider,
};

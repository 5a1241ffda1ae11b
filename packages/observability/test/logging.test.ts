import { TerminalError } from '@orchestr8/common';
import { createEngine } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import {
  agentLogger,
  createLogger,
  createLogObserver,
  formatPrettyLine,
  type LogLevel,
  parseLogFormat,
  parseLogLevel,
  withAgentLogger,
} from '../src/index.js';
import { agent, compile, registryOf } from './helpers.js';

function capture(level: LogLevel = 'trace', format: 'json' | 'pretty' = 'json') {
  const chunks: string[] = [];
  const logger = createLogger({
    level,
    format,
    color: false,
    destination: { write: (s: string) => void chunks.push(s) },
  });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, any>);
  return { logger, chunks, lines };
}

describe('createLogger', () => {
  it('writes JSON lines with an ISO time, a level name and the message', () => {
    const { logger, lines } = capture('info');
    logger.info({ executionId: 'e1' }, 'hello');
    logger.debug('not at info');
    const [line] = lines();
    expect(lines()).toHaveLength(1);
    expect(line).toMatchObject({ level: 'info', msg: 'hello', executionId: 'e1', pid: process.pid });
    expect(line!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('never logs secret fields, in any case and at any depth, without touching the logged object', () => {
    const { logger, chunks } = capture();
    const data = {
      authorization: 'Bearer sk-top-1',
      apiKey: 'sk-top-2',
      req: { headers: { Authorization: 'Bearer sk-top-3', 'X-API-Key': 'sk-top-4' } },
      calls: [{ config: { password: 'sk-top-5', nested: { deeper: { token: 'sk-top-6' } } } }],
      ok: 'visible',
    };
    const before = JSON.stringify(data);
    logger.info(data, 'request');
    logger.child({ stepId: 's' }).warn({ clientSecret: 'sk-top-7' }, 'bound');
    expect(JSON.stringify(data)).toBe(before);
    const text = chunks.join('');
    expect(text).toContain('visible');
    expect(text).not.toMatch(/sk-top-\d/);
    expect(text).toContain('[redacted]');
  });

  it('writes a readable line in the pretty format', () => {
    const { logger, chunks } = capture('info', 'pretty');
    logger.warn({ executionId: 'e1', error: { code: 'TIMEOUT' } }, 'step fetch retrying');
    expect(chunks.join('')).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}step fetch retrying executionId=e1 error=\{"code":"TIMEOUT"\}\n$/,
    );
    expect(formatPrettyLine('not json', false)).toBe('not json');
  });

  it('parses levels and formats as flags and environment variables give them', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel(' warn ')).toBe('warn');
    expect(parseLogLevel('verbose')).toBeUndefined();
    expect(parseLogLevel(undefined)).toBeUndefined();
    expect(parseLogFormat('json')).toBe('json');
    expect(parseLogFormat('xml')).toBeUndefined();
  });
});

describe('engine logs', () => {
  const failing = agent('@t/fail', () => {
    throw new TerminalError('it broke');
  });
  const chatty = agent('@t/chatty', (input, ctx) => {
    ctx.logger.info('calling the service', { apiKey: 'sk-agent-secret', n: input.n });
    return { done: true };
  });
  const wf = compile({
    metadata: { id: 'logged', name: 'logged' },
    steps: [
      { id: 'talk', agent: '@t/chatty', input: { n: 7, note: 'top-secret-input' } },
      { id: 'fail', agent: '@t/fail', input: {}, dependencies: ['talk'] },
    ],
  });

  it('logs the lifecycle with execution and step ids, and agent lines bound to their step, without inputs', async () => {
    const { logger, lines, chunks } = capture('debug');
    const registry = registryOf(chatty, failing);
    const engine = createEngine({
      registry: withAgentLogger(registry, logger),
      logger: agentLogger(logger),
      observers: [createLogObserver(logger)],
    });
    const result = await engine.execute(wf);
    expect(result.status).toBe('failed');
    const all = lines();
    const of = (event: string, stepId?: string) =>
      all.find((l) => l.event === event && (stepId === undefined || l.stepId === stepId));

    expect(of('execution.started')).toMatchObject({
      level: 'info',
      msg: 'execution started',
      executionId: result.executionId,
      workflowId: 'logged',
    });
    expect(of('step.started', 'talk')).toMatchObject({ level: 'debug', agent: '@t/chatty', attempt: 1 });
    expect(of('step.failed', 'fail')).toMatchObject({
      level: 'warn',
      error: { code: 'TERMINAL', message: 'it broke' },
    });
    expect(of('execution.failed')).toMatchObject({ level: 'error', executionId: result.executionId });
    expect(of('execution.failed')!.durationMs).toBeTypeOf('number');

    const agentLine = all.find((l) => l.msg === 'calling the service');
    expect(agentLine).toMatchObject({
      level: 'info',
      executionId: result.executionId,
      stepId: 'talk',
      attempt: 1,
      agentId: '@t/chatty',
      apiKey: '[redacted]',
      n: 7,
    });
    const text = chunks.join('');
    expect(text).not.toContain('top-secret-input');
    expect(text).not.toContain('sk-agent-secret');
  });

  it('binds ctx.logger without changing what the engine reads of an agent (class agents too)', async () => {
    class Api {
      readonly id = '@t/api';
      readonly secretFields = ['token'];
      #host = 'api.example';
      target() {
        return this.#host;
      }
      execute(_input: unknown, ctx: { logger: { info(m: string): void } }) {
        ctx.logger.info('calling');
        return { host: this.#host };
      }
    }
    const { logger, lines } = capture('info');
    const registry = withAgentLogger(registryOf(new Api() as never), logger);
    const wrapped = registry.get('@t/api')!;
    expect(registry.get('@t/api')).toBe(wrapped);
    expect(wrapped.secretFields).toEqual(['token']);
    expect(wrapped.target!({}, {})).toBe('api.example');
    const engine = createEngine({ registry });
    const result = await engine.execute(
      compile({ steps: [{ id: 'call', agent: '@t/api', input: { token: 'sk-journal-secret' } }] }),
    );
    expect(result.steps.call!.output).toEqual({ host: 'api.example' });
    const journal = JSON.stringify(await engine.store.readJournal(result.executionId));
    expect(journal).not.toContain('sk-journal-secret');
    expect(lines().find((l) => l.msg === 'calling')).toMatchObject({ stepId: 'call', agentId: '@t/api' });
  });

  it('logs inputs and outputs only when asked to', async () => {
    const { logger, chunks } = capture('debug');
    const engine = createEngine({
      registry: registryOf(chatty, failing),
      observers: [createLogObserver(logger, { includeData: true })],
    });
    await engine.execute(wf);
    expect(chunks.join('')).toContain('top-secret-input');
  });

  it('costs nothing below the level: lines are not built', async () => {
    const { logger, chunks } = capture('error');
    const engine = createEngine({
      registry: registryOf(chatty, failing),
      observers: [createLogObserver(logger)],
    });
    await engine.execute(wf);
    const levels = chunks.map((c) => (JSON.parse(c) as { level: string }).level);
    expect(levels).toEqual(['error']);
  });
});

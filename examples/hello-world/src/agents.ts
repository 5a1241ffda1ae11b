/**
 * The example's own agents. They are plain `defineAgent` objects: `orchestr8 run` loads them
 * through orchestr8.config.ts, the tests import them, and `orchestr8 agent serve` could
 * serve them over HTTP, all without a line of difference.
 */
import { defineAgent } from '@orchestr8/agent-base';
import { RetryableError } from '@orchestr8/common';

export interface PersonalizeInput {
  greeting: string;
  name: string;
  style?: 'plain' | 'friendly' | 'formal';
  punctuation?: string;
}

/** Turns a plain greeting into one in the requested style. */
export const personalize = defineAgent<PersonalizeInput, { text: string }>({
  id: '@example/personalize',
  version: '1.0.0',
  description: 'Restyles a greeting: plain, friendly or formal.',
  inputSchema: {
    type: 'object',
    properties: {
      greeting: { type: 'string' },
      name: { type: 'string' },
      style: { enum: ['plain', 'friendly', 'formal'] },
      punctuation: { type: 'string' },
    },
    required: ['greeting', 'name'],
  },
  outputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  execute({ greeting, name, style = 'friendly', punctuation = '!' }) {
    if (style === 'formal') return { text: `Good day, ${name}${punctuation}` };
    if (style === 'plain') return { text: `${greeting}${punctuation}` };
    return { text: `${greeting}${punctuation} Lovely to see you, ${name}${punctuation}` };
  },
});

export interface DeliverInput {
  channel: string;
  text: string;
  signature?: string;
  /** How many attempts fail before one succeeds: a stand-in for a flaky delivery channel. */
  failFirst?: number;
}

export interface DeliverOutput {
  delivered: true;
  channel: string;
  message: string;
  attempt: number;
}

/** "Delivers" a message (to stderr); the first `failFirst` attempts fail with a retryable error. */
export const deliver = defineAgent<DeliverInput, DeliverOutput>({
  id: '@example/deliver',
  version: '1.0.0',
  description: 'Delivers a message on a channel; can be told to fail its first attempts.',
  inputSchema: {
    type: 'object',
    properties: {
      channel: { type: 'string' },
      text: { type: 'string' },
      signature: { type: 'string' },
      failFirst: { type: 'integer', minimum: 0 },
    },
    required: ['channel', 'text'],
  },
  execute(input, ctx) {
    if (ctx.attempt <= (input.failFirst ?? 0)) {
      throw new RetryableError(`the ${input.channel} channel is busy (attempt ${ctx.attempt})`);
    }
    const message = input.signature ? `${input.text}\n${input.signature}` : input.text;
    if (input.channel === 'console') process.stderr.write(`\n[${input.channel}] ${message}\n\n`);
    return { delivered: true, channel: input.channel, message, attempt: ctx.attempt };
  },
});

/**
 * An agent that counts the words of a text: `{text}` in, `{words, longest}` out.
 * Used by the "Writing an agent" guide, and run by the docs tests.
 */
import { defineAgent } from '@orchestr8/agent-base';
import { TerminalError } from '@orchestr8/common';

export const wordCount = defineAgent<{ text: string }, { words: number; longest: string }>({
  id: '@acme/word-count',
  version: '1.0.0',
  description: 'Counts the words of a text and finds the longest.',
  // Checked by the engine before execute() runs: a mismatch is a VALIDATION error.
  inputSchema: {
    type: 'object',
    required: ['text'],
    additionalProperties: false,
    properties: { text: { type: 'string', description: 'The text to count' } },
  },
  // Checked after execute() returns.
  outputSchema: {
    type: 'object',
    required: ['words', 'longest'],
    properties: { words: { type: 'integer' }, longest: { type: 'string' } },
  },
  execute(input, ctx) {
    ctx.logger.debug('counting', { chars: input.text.length, attempt: ctx.attempt });
    const words = input.text.split(/\s+/).filter(Boolean);
    // No retry can fix an empty text: fail at once, with a stable code.
    if (words.length === 0) throw new TerminalError('nothing to count: the text is empty');
    const longest = words.reduce((a, b) => (b.length > a.length ? b : a));
    return { words: words.length, longest };
  },
});

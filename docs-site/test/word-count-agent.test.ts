/** Testing an agent, as the "Testing workflows" guide shows it (the guide includes this file). */
import { createTestEngine, expectStep } from '@orchestr8/testing';
import { expect, it } from 'vitest';
import { wordCount } from '../snippets/word-count-agent.js';

it('counts words, and refuses an empty text without retrying', async () => {
  const engine = createTestEngine({ agents: [wordCount] });
  const doc = (text: string) => ({
    version: '1.0.0',
    metadata: { id: 'count' },
    steps: [{ id: 'count', agent: '@acme/word-count', input: { text } }],
  });
  expectStep(await engine.run(doc('to be or not to be')), 'count').toHaveOutput({ words: 6 });
  const empty = await engine.run(doc(' '));
  expectStep(empty, 'count').toHaveFailedWith('TERMINAL').toHaveAttempts(1);
  expect(empty.status).toBe('failed');
});

/** The program the "Embedding orchestr8" guide includes, run as written. */
import { expect, it } from 'vitest';
import { greetAll } from '../snippets/embedding.js';

it('compiles once, executes many, hears every execution finish, and closes', async () => {
  const r = await greetAll(['Ada', 'Grace'], { GREETING: 'hello', SECRET: 'not granted' });
  expect(r.outputs).toEqual([{ text: 'HELLO, ADA!' }, { text: 'HELLO, GRACE!' }]);
  expect(r.finished).toHaveLength(2);
  expect(r.finished.every((f) => f.startsWith('execution.completed '))).toBe(true);
  expect(r.dropped).toBe(0);
});

/** W2 at 10,000 on async.auto (async's auto module only), unbounded concurrency, plain node. */
import auto from 'async/auto.js';
import { asyncAutoTasks, fan, plainSteps } from '../dag.mjs';
import { agent, measure, WIDTH } from './probe.mjs';

await measure(async () => {
  await auto(asyncAutoTasks(plainSteps(fan(WIDTH, WIDTH)), agent), Number.POSITIVE_INFINITY);
});

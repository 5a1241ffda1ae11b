/** W2 at 10,000 on a hand-written Promise DAG, plain node: the floor. */
import { fan, plainSteps, runPlainDag } from '../dag.mjs';
import { agent, measure, WIDTH } from './probe.mjs';

await measure(async () => {
  await runPlainDag(plainSteps(fan(WIDTH, WIDTH)), agent);
});

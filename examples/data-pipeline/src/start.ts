/**
 * `pnpm start`: starts the fixture data API, runs the pipeline against it with the real CLI
 * (`orchestr8 run workflows/data-pipeline.yaml --input baseUrl=<fixture>`), and stops it.
 *
 *   --report <file>   where to write the markdown report (default reports/report.md)
 *   --fail <a,b>      sources the fixture fails (default: reviews); --fail none for none
 * Any other argument goes to `orchestr8 run` (e.g. --json, --store memory).
 */
import { createProgram } from '@orchestr8/cli';
import { startFixtureServer } from './fixture-server.js';

const args = process.argv.slice(2);
function take(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
}
const report = take('--report') ?? 'reports/report.md';
const failArg = take('--fail') ?? 'reviews';
const failing = failArg === 'none' ? [] : failArg.split(',');

const fixture = await startFixtureServer({ failing });
process.stderr.write(
  `fixture data API on ${fixture.url}${failing.length ? ` (failing: ${failing.join(', ')})` : ''}\n`,
);
try {
  await createProgram().parseAsync(
    [
      'run',
      'workflows/data-pipeline.yaml',
      '--input',
      `baseUrl=${fixture.url}`,
      '--input',
      `reportPath=${report}`,
      ...args,
    ],
    { from: 'user' },
  );
} finally {
  await fixture.close();
}

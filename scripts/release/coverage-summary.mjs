#!/usr/bin/env node
/**
 * Coverage per package, as a Markdown table, from the json-summary report the test command
 * writes in CI (coverage/coverage-summary.json): `node scripts/release/coverage-summary.mjs`.
 * The thresholds that fail the build are in vitest.config.ts; this only shows the figures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { REPO } from './pack.mjs';

const file = resolve(REPO, process.argv[2] ?? 'coverage/coverage-summary.json');
if (!existsSync(file)) {
  process.stdout.write(
    `No coverage report (${relative(REPO, file)}): the test command did not run with coverage.\n`,
  );
  process.exit(0);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const metrics = ['lines', 'branches', 'functions', 'statements'];
const packages = new Map();
for (const [path, summary] of Object.entries(report)) {
  if (path === 'total') continue;
  const name = /packages\/([^/]+)\/src\//.exec(relative(REPO, path))?.[1] ?? '(other)';
  const sum = packages.get(name) ?? Object.fromEntries(metrics.map((m) => [m, { covered: 0, total: 0 }]));
  for (const m of metrics) {
    sum[m].covered += summary[m].covered;
    sum[m].total += summary[m].total;
  }
  packages.set(name, sum);
}
const pct = ({ covered, total }) => (total === 0 ? '-' : `${((100 * covered) / total).toFixed(1)}%`);
const rows = [...packages.entries()].sort(([a], [b]) => a.localeCompare(b));
const lines = [
  '### Coverage by package',
  '',
  `| package | ${metrics.join(' | ')} |`,
  `| --- | ${metrics.map(() => '---:').join(' | ')} |`,
  ...rows.map(([name, sum]) => `| ${name} | ${metrics.map((m) => pct(sum[m])).join(' | ')} |`),
  `| **all** | ${metrics.map((m) => `**${pct(report.total[m])}**`).join(' | ')} |`,
  '',
];
process.stdout.write(`${lines.join('\n')}\n`);

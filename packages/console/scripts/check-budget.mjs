// The bundle budget, checked after every build: what a browser downloads, gzipped.
// The first page (list of executions) loads the entry chunk; the graph pages load the rest.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET = { entry: 100 * 1024, total: 200 * 1024 };
const assets = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'app', 'assets');
const index = readFileSync(join(assets, '..', 'index.html'), 'utf8');
let entry = 0;
let total = 0;
for (const f of readdirSync(assets)) {
  const gz = gzipSync(readFileSync(join(assets, f)), { level: 9 }).length;
  total += gz;
  if (index.includes(`/assets/${f}`)) entry += gz;
}
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const over = [];
if (entry > BUDGET.entry)
  over.push(`the first page's files are ${kb(entry)} gzipped, over the ${kb(BUDGET.entry)} budget`);
if (total > BUDGET.total)
  over.push(`all files are ${kb(total)} gzipped, over the ${kb(BUDGET.total)} budget`);
if (over.length > 0) {
  process.stderr.write(`console bundle budget: ${over.join('; ')}\n`);
  process.exit(1);
}
process.stdout.write(`console bundle: first page ${kb(entry)}, all ${kb(total)} gzipped\n`);

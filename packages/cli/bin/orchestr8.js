#!/usr/bin/env node
// The `orchestr8` command. A file in the source tree (not dist/) so that `pnpm install`
// links it before anything is built; it runs the compiled CLI, or says how to build it.
import { existsSync } from 'node:fs';

const bin = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(bin)) {
  process.stderr.write(
    `error: orchestr8 is not built (${bin.pathname} is missing): run \`pnpm build\` in the orchestr8 repository\n`,
  );
  process.exit(2);
}
await import(bin.href);

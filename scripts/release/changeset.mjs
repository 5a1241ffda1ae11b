#!/usr/bin/env node
/**
 * `pnpm changeset [args]`: the changesets CLI, with a clear word when Node.js is too old for
 * it. @changesets/cli 3 needs Node.js 22.11 or newer (it fails with a bare TypeError on 20);
 * the orchestr8 packages themselves support Node.js 20.11 and newer.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 11)) {
  process.stderr.write(
    `error: changesets needs Node.js 22.11 or newer (this is ${process.versions.node}); ` +
      'the orchestr8 packages support 20.11, only this release tool needs the newer Node.js\n',
  );
  process.exit(2);
}
const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('@changesets/cli/package.json')), 'bin.js');
const r = spawnSync(process.execPath, [bin, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);

/**
 * Writes schema/stream.schema.json (the published JSON Schema of stream documents) and the
 * package's copy of it (packages/streams/stream.schema.json, shipped in the npm package).
 * Run: pnpm --filter @orchestr8/streams generate:schema
 * A test fails when either committed file differs from what this produces.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STREAM_JSON_SCHEMA } from '../src/stream-schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const target = resolve(root, 'schema/stream.schema.json');
writeFileSync(target, `${JSON.stringify(STREAM_JSON_SCHEMA, null, 2)}\n`);
const biome = spawnSync('pnpm', ['exec', 'biome', 'format', '--write', target], {
  cwd: root,
  stdio: 'inherit',
});
if (biome.status !== 0) console.warn('biome format failed; the schema was written unformatted');
const copy = resolve(root, 'packages/streams/stream.schema.json');
copyFileSync(target, copy);
console.log(`wrote ${target} and ${copy}`);

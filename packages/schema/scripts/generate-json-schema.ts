/**
 * Writes schema/workflow.schema.json (the published JSON Schema) from the zod model, and the
 * package's copy of it (packages/schema/workflow.schema.json, what the validator reads).
 * Run: pnpm --filter @orchestr8/schema generate:schema
 * A test fails when the committed file differs from what this produces.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWorkflowJsonSchema } from '../src/json-schema-build.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const target = resolve(root, 'schema/workflow.schema.json');
writeFileSync(target, `${JSON.stringify(buildWorkflowJsonSchema(), null, 2)}\n`);
// Keep the file in the repository's format, so `biome check` stays clean.
const biome = spawnSync('pnpm', ['exec', 'biome', 'format', '--write', target], {
  cwd: root,
  stdio: 'inherit',
});
if (biome.status !== 0) console.warn('biome format failed; the schema was written unformatted');
const copy = resolve(root, 'packages/schema/workflow.schema.json');
copyFileSync(target, copy);
console.log(`wrote ${target} and ${copy}`);

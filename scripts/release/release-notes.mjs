#!/usr/bin/env node
/**
 * The notes of a GitHub release: each package's CHANGELOG.md section for the version
 * (`node scripts/release/release-notes.mjs v0.2.0`). Packages whose section only lists
 * updated dependencies are named at the end instead of repeated.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicPackages } from './pack.mjs';

const tag = process.argv[2];
if (!tag) {
  process.stderr.write('usage: node scripts/release/release-notes.mjs v<version>\n');
  process.exit(2);
}
const version = tag.replace(/^v/, '');

/** The lines under `## <version>` up to the next `## ` heading. */
function section(changelog, version) {
  const lines = changelog.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${version}`);
  if (start === -1) return undefined;
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines
    .slice(start + 1, end === -1 ? undefined : end)
    .join('\n')
    .trim();
}

const out = [];
const onlyDependencies = [];
const missing = [];
for (const p of publicPackages()) {
  const file = join(p.dir, 'CHANGELOG.md');
  const body = existsSync(file) ? section(readFileSync(file, 'utf8'), version) : undefined;
  if (body === undefined) missing.push(p.name);
  else if (/^(###\s*Patch Changes\s*)?(-\s*Updated dependencies[\s\S]*)?$/.test(body))
    onlyDependencies.push(p.name);
  else out.push(`## ${p.name}\n\n${body}\n`);
}
if (onlyDependencies.length > 0)
  out.push(`Released with updated dependencies only: ${onlyDependencies.join(', ')}.\n`);
if (missing.length > 0) out.push(`No changelog entry for ${version}: ${missing.join(', ')}.\n`);
process.stdout.write(out.join('\n'));

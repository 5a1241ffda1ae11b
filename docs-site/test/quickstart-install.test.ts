/** The quickstart's sample output of `pnpm install:global` names as many packages as it installs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicPackages } from '../../scripts/release/pack.mjs';

const root = join(import.meta.dirname, '..', '..');

describe('quickstart: pnpm install:global', () => {
  it('prints the number of @orchestr8 packages the install script installs', () => {
    const page = readFileSync(join(root, 'docs-site', 'quickstart.md'), 'utf8');
    const sample = /installing (\d+) @orchestr8 packages with npm install -g…/.exec(page);
    expect(sample, 'the sample line is in quickstart.md').not.toBeNull();
    const script = readFileSync(join(root, 'scripts', 'install-global.mjs'), 'utf8');
    expect(script).toContain('installing ${tarballs.length} @orchestr8 packages with npm install -g…');
    expect(Number(sample![1])).toBe(publicPackages().length);
  });
});

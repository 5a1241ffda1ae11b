/**
 * Internal links resolve: pages, public files and anchors. (`pnpm docs:build` also fails
 * on dead page links; anchors are only checked here.)
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLinks, listPages } from '../../scripts/docs/links.js';

const SITE = fileURLToPath(new URL('..', import.meta.url));

describe('links in the docs', () => {
  it('point at pages, files and anchors that exist', () => {
    expect(listPages(SITE).length).toBeGreaterThan(10);
    expect(checkLinks(SITE).map((p) => `${p.file}:${p.line} ${p.link}: ${p.problem}`)).toEqual([]);
  });
});

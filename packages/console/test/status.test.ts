import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isTerminal, STATUS_STYLES, statusCss, statusStyle, statusVar } from '../app/lib/status.js';

/** The font families fontconfig says cover a character (empty without fontconfig). */
const familiesWith = (ch: string): string => {
  const r = spawnSync('fc-list', [`:charset=${ch.codePointAt(0)!.toString(16)}`, 'family'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout : '';
};
const hasDejaVu = spawnSync('fc-list', [':family=DejaVu Sans', 'family'], {
  encoding: 'utf8',
}).stdout?.includes('DejaVu Sans');

describe('status colours', () => {
  it('gives every status distinct light and dark colours, a label and a mark', () => {
    const distinct = ['running', 'retrying', 'waiting', 'completed', 'failed', 'cancelled'] as const;
    for (const theme of ['light', 'dark'] as const)
      expect(new Set(distinct.map((s) => STATUS_STYLES[s][theme])).size).toBe(distinct.length);
    expect(new Set(distinct.map((s) => STATUS_STYLES[s].mark)).size).toBe(distinct.length);
  });

  // Debian's Chromium falls back to DejaVu Sans for symbols: a mark it lacks is a blank box.
  it.skipIf(!hasDejaVu)('marks every status with a character DejaVu Sans, a stock Debian font, has', () => {
    for (const s of [...Object.values(STATUS_STYLES), statusStyle(undefined)])
      for (const ch of s.mark)
        expect({ status: s.label, mark: ch, fonts: familiesWith(ch) }).toMatchObject({
          fonts: expect.stringContaining('DejaVu Sans'),
        });
  });

  it('falls back to a neutral style for a status it does not know', () => {
    expect(statusStyle('exploded').label).toBe('unknown');
    expect(statusStyle(undefined).label).toBe('unknown');
    expect(statusVar('exploded')).toBe('var(--status-pending)');
    expect(statusVar('failed')).toBe('var(--status-failed)');
  });

  it('matches the stylesheet: every status colour the app uses is defined there for both themes', async () => {
    const { readFileSync } = await import('node:fs');
    const css = readFileSync(new URL('../app/styles.css', import.meta.url), 'utf8');
    const [light, dark] = css.split('@media (prefers-color-scheme: dark)');
    for (const [name, s] of Object.entries(STATUS_STYLES)) {
      expect(light).toContain(`--status-${name}: ${s.light};`);
      expect(dark).toContain(`--status-${name}: ${s.dark};`);
    }
    expect(statusCss()).toContain('prefers-color-scheme: dark');
  });

  it('knows which statuses are final', () => {
    expect(['completed', 'failed', 'cancelled'].every(isTerminal)).toBe(true);
    expect(['running', 'retrying', 'waiting', 'queued', undefined].some(isTerminal)).toBe(false);
  });
});

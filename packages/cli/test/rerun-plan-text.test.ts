/** The plan `orchestr8 rerun` prints, as docs-site/concepts/operations.md shows it. */
import { describe, expect, it } from 'vitest';
import { formatPlan } from '../src/commands/operations-shared.js';

describe('the printed rerun plan', () => {
  it('lists what runs again, what is reused, the changed inputs and the steps they invalidate', () => {
    expect(
      formatPlan({
        rerun: ['fetch', 'transform', 'publish'],
        reused: ['report'],
        changedInputs: ['region'],
        invalidated: [{ stepId: 'fetch', inputs: ['region'] }],
      }),
    ).toBe(
      '  runs again: fetch, transform, publish\n' +
        '  reused:     report\n' +
        '  changed inputs: region\n' +
        '    fetch reads inputs.region: runs again\n',
    );
  });

  it('says when nothing is reused', () => {
    expect(formatPlan({ rerun: ['a'], reused: [], changedInputs: [], invalidated: [] })).toBe(
      '  runs again: a\n  reused:     (nothing)\n',
    );
  });
});

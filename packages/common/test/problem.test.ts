import { describe, expect, it } from 'vitest';
import { PROBLEM_TYPE_BASE, problemBody, problemInstance, problemTitle, problemType } from '../src/index.js';

describe('problem details', () => {
  it('types a problem by its code in kebab case under the problems base', () => {
    expect(problemType('IDEMPOTENCY_KEY_REUSED')).toBe(`${PROBLEM_TYPE_BASE}idempotency-key-reused`);
    expect(PROBLEM_TYPE_BASE).toBe('https://orchestr8.dev/problems/');
  });

  it('titles a problem with the reason phrase of its status, or Error for one not listed', () => {
    expect(problemTitle(422)).toBe('Unprocessable Content');
    expect(problemTitle(413)).toBe('Content Too Large');
    expect(problemTitle(502)).toBe('Bad Gateway');
    expect(problemTitle(418)).toBe('Error');
  });

  it('builds the body with the fields in a fixed order, extensions before the instance', () => {
    const body = problemBody(422, 'VALIDATION', 'bad', { errors: [] }, '/streams/s/events');
    expect(JSON.stringify(body)).toBe(
      '{"type":"https://orchestr8.dev/problems/validation","title":"Unprocessable Content","status":422,' +
        '"detail":"bad","code":"VALIDATION","errors":[],"instance":"/streams/s/events"}',
    );
    expect(Object.keys(problemBody(404, 'NOT_FOUND', 'none'))).toEqual([
      'type',
      'title',
      'status',
      'detail',
      'code',
    ]);
  });

  it("takes the instance from a request's path, without its query", () => {
    expect(problemInstance('/executions/e1?wait=1')).toBe('/executions/e1');
    expect(problemInstance(undefined)).toBeUndefined();
    expect(problemInstance('')).toBeUndefined();
  });
});

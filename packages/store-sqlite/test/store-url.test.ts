import { describe, expect, it } from 'vitest';
import { DEFAULT_SQLITE_PATH, parseStoreUrl } from '../src/index.js';

describe('parseStoreUrl', () => {
  it.each([
    ['memory', { kind: 'memory' }],
    ['MEMORY', { kind: 'memory' }],
    ['sqlite:./data/o8.db', { kind: 'sqlite', path: './data/o8.db' }],
    ['sqlite://data/o8.db', { kind: 'sqlite', path: 'data/o8.db' }],
    ['sqlite:///var/lib/o8.db', { kind: 'sqlite', path: '/var/lib/o8.db' }],
    ['sqlite:/var/lib/o8', { kind: 'sqlite', path: '/var/lib/o8' }],
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    ['file:o8.db', { kind: 'sqlite', path: 'o8.db' }],
    ['file:///tmp/o8.db', { kind: 'sqlite', path: '/tmp/o8.db' }],
    ['./state/o8.db', { kind: 'sqlite', path: './state/o8.db' }],
    ['/abs/o8.sqlite', { kind: 'sqlite', path: '/abs/o8.sqlite' }],
    ['o8.sqlite3', { kind: 'sqlite', path: 'o8.sqlite3' }],
    ['C:\\data\\o8.db', { kind: 'sqlite', path: 'C:\\data\\o8.db' }],
    ['postgres://u:p@host:5432/db', { kind: 'postgres', url: 'postgres://u:p@host:5432/db' }],
    [
      'postgresql://host/db?sslmode=require',
      { kind: 'postgres', url: 'postgresql://host/db?sslmode=require' },
    ],
  ])('reads %s', (url, expected) => {
    expect(parseStoreUrl(url)).toEqual(expected);
  });

  it.each(['', '  ', 'sqlite:', 'sqlite://'])('uses the default path for %j', (url) => {
    expect(parseStoreUrl(url)).toEqual({ kind: 'sqlite', path: DEFAULT_SQLITE_PATH });
    expect(DEFAULT_SQLITE_PATH).toBe('./.orchestr8/orchestr8.db');
  });

  it.each(['mysql://host/db', 'redis://x', 'notes.txt', 'http://host/o8.db'])(
    'rejects %s with VALIDATION',
    (url) => {
      expect(() => parseStoreUrl(url)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    },
  );
});

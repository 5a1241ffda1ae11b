import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STREAM_JSON_SCHEMA } from '../src/index.js';

describe('the stream JSON Schema shipped in @orchestr8/streams', () => {
  it('is the package copy of schema/stream.schema.json (pnpm --filter @orchestr8/streams generate:schema writes both)', () => {
    const published = readFileSync(new URL('../../../schema/stream.schema.json', import.meta.url), 'utf8');
    const shipped = readFileSync(new URL('../stream.schema.json', import.meta.url), 'utf8');
    expect(shipped).toBe(published);
    expect(JSON.parse(shipped)).toEqual(JSON.parse(JSON.stringify(STREAM_JSON_SCHEMA)));
  });

  it('is in the files the package publishes', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      files: string[];
    };
    expect(manifest.files).toContain('stream.schema.json');
  });
});

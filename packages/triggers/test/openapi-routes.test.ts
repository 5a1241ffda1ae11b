/**
 * The triggers router serves every operation the server's OpenAPI document marks
 * `x-orchestr8-router: triggers`, and nothing undocumented (the server cannot depend on this
 * package, so the check lives here).
 */
import { openApiDocument } from '@orchestr8/server';
import type { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { createTriggerRouter, type Scheduler } from '../src/index.js';

describe('the triggers router and the OpenAPI document', () => {
  it('serve the same paths and methods', () => {
    const routers = createTriggerRouter({ scheduler: {} as Scheduler });
    const served = routers
      .flatMap((r) => (r.handler as unknown as Router).stack)
      .flatMap((layer) => {
        const route = (layer as { route?: { path: string; methods: Record<string, boolean> } }).route;
        return route
          ? Object.keys(route.methods).map(
              (m) => `${m.toUpperCase()} ${route.path.replace(/:([A-Za-z]+)/g, '{$1}')}`,
            )
          : [];
      })
      .sort();
    const paths = (openApiDocument() as { paths: Record<string, Record<string, Record<string, unknown>>> })
      .paths;
    const ops = Object.entries(paths).flatMap(([path, o]) =>
      Object.entries(o).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, op })),
    );
    const marked = ops.filter((o) => o.op['x-orchestr8-router'] === 'triggers').map((o) => o.key);
    expect(served.length).toBeGreaterThan(0);
    // Every operation marked as the router's is served by it ...
    expect(served).toEqual(expect.arrayContaining(marked));
    // ... and everything it serves is documented (POST /events may be the server's own, which wins).
    expect(ops.map((o) => o.key)).toEqual(expect.arrayContaining(served));
  });
});

/**
 * The triggers router serves exactly the operations the server's OpenAPI document marks
 * `x-orchestr8-router: triggers` (the server cannot depend on this package, so the check
 * lives here).
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
    const documented = Object.entries(paths)
      .flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, o]) => o['x-orchestr8-router'] === 'triggers')
          .map(([m]) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    expect(served.length).toBeGreaterThan(0);
    expect(served).toEqual(documented);
  });
});

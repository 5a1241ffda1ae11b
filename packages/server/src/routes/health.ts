import type { RouteDef, ServerContext } from '../context.js';
import { route } from '../contracts/route.js';
import { healthz, openapi as openapiContract, readyz } from '../contracts/system.js';
import { openApiDocument } from '../openapi.js';
import { HttpProblem, ProblemCode } from '../problem.js';

/** Liveness, readiness, and the API description. */
export function healthRoutes(ctx: ServerContext): RouteDef[] {
  let openapi: string | undefined;
  return [
    route(healthz, (_input, _req, res) => {
      res.json({ status: 'ok' });
    }),
    route(readyz, async (_input, _req, res) => {
      if (ctx.lifecycle.closing)
        throw new HttpProblem(503, ProblemCode.SHUTTING_DOWN, 'the server is shutting down');
      try {
        await ctx.ready();
      } catch (e) {
        ctx.logger.error('readiness check failed', e);
        throw new HttpProblem(
          503,
          ProblemCode.NOT_READY,
          'the store is not reachable or not migrated',
          {},
          { 'Retry-After': '1' },
        );
      }
      res.json({ status: 'ready', store: ctx.store.kind });
    }),
    route(openapiContract, (_input, _req, res) => {
      openapi ??= JSON.stringify(openApiDocument(ctx.routerContracts));
      res.type('application/json').send(openapi);
    }),
  ];
}

import type { RouteDef, ServerContext } from '../context.js';
import { route } from '../contracts/route.js';
import { metrics as metricsContract } from '../contracts/system.js';
import { HttpProblem, ProblemCode } from '../problem.js';

/** `GET /metrics`: the Prometheus text exposition of `ServerOptions.metrics`; 404 when none is given. */
export function metricsRoutes(ctx: ServerContext): RouteDef[] {
  return [
    route(metricsContract, async (_input, _req, res) => {
      const source = ctx.metrics;
      if (!source) {
        throw new HttpProblem(404, ProblemCode.NOT_FOUND, 'metrics are not enabled on this server');
      }
      const body = await source.metrics();
      res.setHeader('Content-Type', source.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(body);
    }),
  ];
}

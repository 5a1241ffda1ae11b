import type { RouteDef, ServerContext } from '../context.js';
import { route } from '../contracts/route.js';
import { listWorkers } from '../contracts/system.js';
import { HttpProblem, ProblemCode } from '../problem.js';

/** `GET /workers`: live workers, their heartbeats and current steps (PostgreSQL stores only). */
export function workersRoutes(ctx: ServerContext): RouteDef[] {
  return [
    route(listWorkers, async (_input, _req, res) => {
      if (!ctx.workers) {
        throw new HttpProblem(404, ProblemCode.NOT_FOUND, 'workers exist only with a PostgreSQL store');
      }
      res.setHeader('Cache-Control', 'no-store');
      res.json(await ctx.workers());
    }),
  ];
}

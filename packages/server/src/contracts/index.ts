/** Every route contract of the server, by family. */
import { type RouteContract, shared } from './contract.js';
import { executionContracts } from './executions.js';
import { operationContracts } from './operations.js';
import { systemContracts } from './system.js';
import { eventContracts, waitContracts } from './waits.js';
import { workflowContracts } from './workflows.js';

/**
 * A route of the server that takes a body reads it with body.ts (server.ts mounts it before the
 * routes): over the limit is 413, not JSON (or YAML for PUT) is 415, whatever its contract lists.
 */
const bodyProblems = (c: RouteContract): RouteContract =>
  c.body === undefined
    ? c
    : {
        ...c,
        responses: {
          ...c.responses,
          '413': c.responses['413'] ?? shared('PayloadTooLarge'),
          '415': c.responses['415'] ?? shared('UnsupportedMediaType'),
        },
      };

export const serverContracts: readonly RouteContract[] = [
  ...systemContracts,
  ...executionContracts,
  ...operationContracts,
  ...eventContracts,
  ...waitContracts,
  ...workflowContracts,
].map(bodyProblems);

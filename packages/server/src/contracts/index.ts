/** Every route contract of the server, by family. */
import type { RouteContract } from './contract.js';
import { executionContracts } from './executions.js';
import { operationContracts } from './operations.js';
import { systemContracts } from './system.js';
import { eventContracts, waitContracts } from './waits.js';
import { workflowContracts } from './workflows.js';

export const serverContracts: readonly RouteContract[] = [
  ...systemContracts,
  ...executionContracts,
  ...operationContracts,
  ...eventContracts,
  ...waitContracts,
  ...workflowContracts,
];

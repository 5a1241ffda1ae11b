/**
 * Engine internals for distributed workers (`@orchestr8/worker`): run one step of a stored
 * execution, and plan what committing it changes. Not needed to run workflows in process.
 */
export {
  type CommitPlan,
  cancelStop,
  type PlanInput,
  type PlannedTask,
  planCommit,
  queueOf,
  resumeEntry,
  startEntry,
  type TaskState,
  timeoutStop,
} from './step-task-plan.js';
export {
  type StepTask,
  type StepTaskOutcome,
  type StepTaskProgress,
  StepTaskRunner,
  type StepTaskRunnerOptions,
  type StopRecord,
} from './step-task-run.js';

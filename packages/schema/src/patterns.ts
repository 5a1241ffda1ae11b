/**
 * The patterns of ids and names in workflow documents: used by the zod model and by the
 * validator's messages, which must not load zod to say what a pattern means.
 */
export const STEP_ID_PATTERN = /^[A-Za-z0-9_-]+$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const SEMVER_PATTERN =
  /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
export const AGENT_ID_PATTERN = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
export const WORKFLOW_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const QUEUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

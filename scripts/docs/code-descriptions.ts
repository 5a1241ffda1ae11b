/**
 * What each stable code means, for codes whose declaration carries no doc comment. The
 * lists of codes come from the code (ErrorCode, ProblemCode, DiagnosticCode, EventType);
 * the generator fails when a code has neither a doc comment nor an entry here, and when an
 * entry here names a code that no longer exists. A doc comment in the source wins.
 */

export const ERROR_CODE_DESCRIPTIONS: Record<string, string> = {
  VALIDATION:
    'Something is invalid and retrying cannot fix it: a workflow document, execution inputs, an agent input or output that does not match its schema, a bad store URL. Never retried.',
  TIMEOUT:
    'A time limit passed: a step attempt (`policies.timeout`, `policies.timeout.perStep`) or the whole execution (`policies.timeout.global`).',
  CIRCUIT_OPEN:
    'The circuit breaker of the agent (and target) is open: the call was refused without running. The error carries `retryAfterMs`. Never retried.',
  CANCELLED:
    'The execution or the step was cancelled (by a user, Ctrl-C, a shutdown, or fail-fast). Never retried.',
  RETRYABLE: 'A transient failure an agent reports with `RetryableError`; the default code of that class.',
  TERMINAL: 'A failure no retry can fix, reported with `TerminalError`; the default code of that class.',
  NETWORK: 'A network failure reaching a dependency (connection refused or reset, DNS).',
  HTTP_5XX: 'A dependency answered with an HTTP 5xx status.',
  HTTP_429:
    'A dependency answered 429 Too Many Requests; `retryAfterMs` carries its Retry-After when it sent one.',
  HTTP_4XX: 'A dependency answered with an HTTP 4xx status other than 429: the request itself is wrong.',
  AGENT_NOT_FOUND: 'No agent with the step’s agent id (and version range) is registered.',
  AGENT_FAILED:
    'An agent threw something that is not an orchestr8 error (a plain `Error`, a string): the code it is given.',
  EXPRESSION:
    'A template or condition could not be evaluated at run time (for example the workflow outputs).',
  NOT_FOUND: 'An execution, workflow or version that does not exist.',
  CONFLICT:
    'The request conflicts with what is recorded: an execution id or workflow version that already exists with other content, an agent id registered twice, an idempotency key reused for another request.',
  STORE: 'The store failed: unreachable, locked, corrupt, not writable, or closed.',
  INTERNAL: 'A bug in orchestr8. The message says where; please report it.',
};

export const PROBLEM_CODE_DESCRIPTIONS: Record<string, string> = {
  BAD_REQUEST:
    'The request is malformed: a body of the wrong shape (with `errors`), a bad query parameter or header.',
  INVALID_JSON: 'The body is not valid JSON.',
  VALIDATION:
    'The workflow document or the inputs are invalid; `errors` lists every problem with its JSON pointer.',
  NOT_FOUND: 'No such execution, workflow or version; or no such path.',
  METHOD_NOT_ALLOWED: 'The path exists but not with this method; `Allow` lists the methods it has.',
  UNSUPPORTED_MEDIA_TYPE: 'The body is not `application/json` (or has an unsupported encoding or charset).',
  PAYLOAD_TOO_LARGE: 'The body is larger than the limit (1 MiB by default, `--body-limit`).',
  RATE_LIMITED:
    'Too many requests from this client (API key, else IP address); `Retry-After` says when to retry.',
  UNAUTHORIZED: 'An API key is required and was missing or wrong.',
  PRECONDITION_FAILED: '`If-Match` or `If-None-Match: *` did not hold when registering a workflow.',
  CONFLICT:
    'The workflow version is already registered with other content, or the execution runs in another process.',
  EXECUTION_FINISHED: 'The execution has already finished, so it cannot be cancelled.',
  IDEMPOTENCY_KEY_INVALID: 'The `Idempotency-Key` header is not 1-255 printable ASCII characters.',
  IDEMPOTENCY_KEY_REUSED:
    'The `Idempotency-Key` was already used with a different request (method, path or body).',
  SHUTTING_DOWN: 'The server is shutting down and takes no new work.',
  NOT_READY: 'The store is unreachable or not migrated (`/readyz`).',
  STORE: 'The store failed; `Retry-After: 1`. Try again later.',
  INTERNAL: 'An unexpected error. The response never carries a stack trace; the server logs it.',
};

/** DiagnosticCode members without a doc comment in packages/schema/src/diagnostics.ts. */
export const DIAGNOSTIC_CODE_DESCRIPTIONS: Record<string, string> = {
  DUPLICATE_STEP_ID: 'Two steps have the same `id`.',
  CYCLE: 'The dependencies form a cycle (the message names the steps in it).',
};

export const EVENT_TYPE_DESCRIPTIONS: Record<string, string> = {
  executionStarted: 'The execution started: its workflow, version and inputs.',
  executionResumed:
    'A run resumed an execution left running by a process that stopped; numbering continues after the last committed entry.',
  executionCancelling:
    'The execution is stopping (cancelled, or failed under `onError: fail`): no new step starts and running steps get the grace period.',
  executionSuspended:
    'The process is shutting down: running steps get the grace period, then the execution is left `running` to resume on the next start.',
  executionCompleted: 'Every step finished and the outputs were rendered. Terminal.',
  executionFailed: 'The execution failed; `data.error` says why. Terminal.',
  executionCancelled: 'The execution was cancelled. Terminal.',
  stepStarted: 'A step started its first attempt: its agent and (redacted) input.',
  stepAttempt: 'A step started another attempt (2, 3, ...).',
  stepRetrying:
    'An attempt failed with a retryable error: the error, the next attempt and the backoff delay.',
  stepCompleted: 'A step finished with an output.',
  stepFailed: 'A step failed for good (after its retries); `data.error` says why.',
  stepSkipped:
    'A step did not run: its condition was not met, or a dependency failed, was skipped or cancelled.',
  stepCancelled: 'A step was cancelled with its execution.',
  stepFallback: 'A step failed under `onError: fallback`; its fallback step runs in its place.',
  stepChild: 'A step started a child execution (`ctx.runWorkflow`): the child’s execution id.',
  timeoutExceeded: 'A step attempt or the whole execution ran out of time.',
  circuitOpened: 'A circuit breaker opened: calls through it fail fast with CIRCUIT_OPEN.',
  circuitHalfOpen: 'An open circuit let one trial call through.',
  circuitClosed: 'A circuit closed again after a successful trial call.',
  circuitRejected: 'A call was refused because its circuit is open.',
  journalDropped:
    'The journal passed its per-execution size cap: from here the oldest entries are dropped. Written once per execution; the final count is `journalDropped` on the execution’s last entry and result.',
};

/** ExitCode members without a doc comment in packages/cli/src/exit-codes.ts. */
export const EXIT_CODE_DESCRIPTIONS: Record<string, string> = {
  ok: 'Success: the execution completed, the documents are valid, or the command did what was asked.',
};

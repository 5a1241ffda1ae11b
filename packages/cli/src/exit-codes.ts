/** Process exit codes, documented in `orchestr8 --help` and the docs. */
export const ExitCode = {
  ok: 0,
  /** The execution failed, or a document is invalid for `validate`. */
  failed: 1,
  /** Invalid document for `run`, bad usage, or an unreadable file. */
  usage: 2,
  /** Cancelled by Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;

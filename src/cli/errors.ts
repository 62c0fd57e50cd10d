// Errors that reach the command boundary: each carries a stable code and the
// exit status the CLI returns, and is printed once, without a stack trace.

/**
 * Exit codes (README): 0 ok, 1 runtime failure, 2 usage/configuration, 3
 * expectations not met, 4 an output is incomplete (a run that would have
 * exited 0; any other code says more and is kept).
 */
export const ExitCode = {
  Ok: 0,
  Runtime: 1,
  Usage: 2,
  Expectations: 3,
  OutputIncomplete: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class TcpmitmError extends Error {
  constructor(
    /** Stable machine-readable code, e.g. "E_NOT_ROOT", "E_PROFILE". */
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode = ExitCode.Runtime,
    /** What the user should do, printed on its own line. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'TcpmitmError';
  }
}

export class UsageError extends TcpmitmError {
  constructor(message: string, hint?: string) {
    super('E_USAGE', message, ExitCode.Usage, hint);
  }
}

/** Formats an error for stderr: "tcpmitm: <message> [<code>]" and the hint. */
export function formatError(err: unknown): string {
  if (err instanceof TcpmitmError) {
    return `tcpmitm: ${err.message} [${err.code}]` + (err.hint ? `\n  ${err.hint}` : '');
  }
  const e = err as { message?: string };
  return `tcpmitm: ${e?.message ?? String(err)} [E_INTERNAL]`;
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof TcpmitmError ? err.exitCode : ExitCode.Runtime;
}

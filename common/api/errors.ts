/**
 * dockerlet's coded errors, in one catalogue. Each has a stable code, the HTTP status it maps
 * to, and a message that names the file, the field and what to do.
 */

const catalogue = {
  DKL_ERR_FLAG_INVALID: 2,
  DKL_ERR_CONFIG_INVALID: 2,
  DKL_ERR_MANIFEST_INVALID: 400,
  DKL_ERR_NOT_FOUND: 404,
  DKL_ERR_FORBIDDEN: 403,
  DKL_ERR_BAD_REQUEST: 400,
  DKL_ERR_RUNTIME: 500,
  DKL_ERR_RUNTIME_UNAVAILABLE: 503,
  /** A pod failed where it was awaited (a test's or `dockerlet run --wait`'s wait). */
  DKL_ERR_POD_FAILED: 500,
  /** What was awaited did not happen in time. */
  DKL_ERR_WAIT_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof catalogue;

export class DockerletError extends Error {
  readonly code: ErrorCode;
  /** HTTP status for server errors; process exit code for the CLI's DKL_ERR_FLAG/CONFIG codes. */
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DockerletError';
    this.code = code;
    this.status = catalogue[code];
  }
}

export function isDockerletError(err: unknown, code?: ErrorCode): err is DockerletError {
  return err instanceof DockerletError && (code === undefined || err.code === code);
}

export const isNotFound = (err: unknown): boolean => isDockerletError(err, 'DKL_ERR_NOT_FOUND');

/** A one-line description of any thrown value, for logs and status messages. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** utilerrors.NewAggregate(errs).Error(): one message alone, several as "[a, b]" without repeats. */
export function aggregateMessage(messages: readonly string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}

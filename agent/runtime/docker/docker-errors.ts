/** How the Docker engine API says what went wrong, recognised in one place. */

interface DockerApiError {
  statusCode?: number;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as DockerApiError).statusCode : undefined;
}

/** 404: no such container, image or network. */
export const isDockerNotFound = (err: unknown): boolean => statusOf(err) === 404;
/** 304: the container is already in the requested state (already started or stopped). */
export const isDockerNotModified = (err: unknown): boolean => statusOf(err) === 304;
/** 409: a name is taken, or a removal is already under way. */
export const isDockerConflict = (err: unknown): boolean => statusOf(err) === 409;

/** The engine's own message ("No such image: ..."), without dockerode's wrapping. */
export function dockerMessage(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const apiError = err as DockerApiError;
  const message = apiError.json?.message ?? apiError.message ?? String(err);
  return message.replace(/^\(HTTP code \d+\) [^-]+- /, '').trim();
}

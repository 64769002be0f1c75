/** Query parameters read the way the API server reads them. */
import { DockerletError } from '../../common/api/errors.js';

/** Reads an optional query flag the way the API server does ("true", "1"). */
export function queryFlag(value: unknown): boolean {
  return value === 'true' || value === '1' || value === true;
}

/** Reads an optional non-negative integer query parameter; `name` is used in the error. */
export function queryInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw new DockerletError('DKL_ERR_BAD_REQUEST', `${name}: Invalid value: ${JSON.stringify(value)}: must be a non-negative integer`);
  }
  return parsed;
}

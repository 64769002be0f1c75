/**
 * One setting from its sources: a flag over the --config file's field over the default, with
 * errors that name whichever gave the bad value. Shared by the agent's, the server's and the
 * proxy's option resolution.
 */
import { DockerletError } from '../common/api/errors.js';
import { parseDuration } from '../common/util/duration.js';
import { parseIpv4Cidr, type Ipv4Cidr } from '../common/util/ipv4.js';

export function flagError(flag: string, value: unknown, expected: string): DockerletError {
  return new DockerletError('DKL_ERR_FLAG_INVALID', `${flag}: invalid value ${JSON.stringify(value)}: ${expected}`);
}

function configError(path: string, field: string, value: unknown, expected: string): DockerletError {
  return new DockerletError('DKL_ERR_CONFIG_INVALID', `--config ${path}: ${field}: invalid value ${JSON.stringify(value)}: ${expected}`);
}

/**
 * One setting's value, flag over config file over default, and how to report it as invalid:
 * naming the flag when the flag gave it, the config file's field when the file did.
 */
export interface Setting<T> {
  value: T;
  invalid(expected: string, value?: unknown): DockerletError;
}

interface SettingSources<T> {
  flag?: string;
  flagValue?: T | undefined;
  field?: string;
  fileValue?: T | undefined;
  configPath?: string | undefined;
}

export function setting<T>(sources: SettingSources<T>, fallback: T): Setting<T> {
  const { flag, flagValue, field, fileValue, configPath } = sources;
  const name = flag ?? field ?? '';
  if (flag !== undefined && flagValue !== undefined) {
    return { value: flagValue, invalid: (expected, value = flagValue) => flagError(flag, value, expected) };
  }
  if (field !== undefined && fileValue !== undefined && configPath !== undefined) {
    return { value: fileValue, invalid: (expected, value = fileValue) => configError(configPath, field, value, expected) };
  }
  return { value: fallback, invalid: (expected, value = fallback) => flagError(name, value, expected) };
}

/** A Go-style boolean flag's value: true, false, or the words for them. */
export function boolean({ value, invalid }: Setting<string | boolean>): boolean {
  if (typeof value === 'boolean') return value;
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  throw invalid('must be true or false');
}

/** A cache's time to live: 0 keeps nothing. */
export function ttlMs(setting: Setting<string>): number {
  return nonNegativeDurationMs(setting, 'must be a duration such as 30s or 5m (0 keeps nothing)');
}

/** A duration that may be 0, in ms; `expected` says what 0 means to the setting. */
export function nonNegativeDurationMs({ value, invalid }: Setting<string>, expected: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0) throw invalid(expected);
  return ms;
}

/** A period or timeout: a zero one would be a busy loop or no time at all. */
export function durationMs({ value, invalid }: Setting<string>): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw invalid('must be a positive duration such as 20s, 1m or 1m30s');
  return ms;
}

/**
 * An IPv4 CIDR from /8 to /30 (a range of addresses to hand out), parsed once here; `example`
 * goes in the error. Host bits are refused rather than dropped: 10.244.1.0/16 is a typo for
 * 10.244.1.0/24 as often as for 10.244.0.0/16.
 */
export function ipv4CidrSetting({ value, invalid }: Setting<string>, example: string): Ipv4Cidr {
  const cidr = parseIpv4Cidr(value);
  if (!cidr || cidr.prefixLength < 8 || cidr.prefixLength > 30) throw invalid(`must be an IPv4 CIDR from /8 to /30, such as ${example}`);
  if (cidr.text !== value.trim()) throw invalid(`has host bits set: did you mean ${cidr.text}?`);
  return cidr;
}


/**
 * Node-pressure eviction thresholds as the kubelet takes them (pkg/kubelet/eviction/api and
 * helpers.go ParseThresholdConfig): each signal below a quantity or a percentage of its
 * capacity, hard (acted on at once) or soft (acted on once it has held for its grace period),
 * with a minimum reclaim that is freed beyond the threshold once acting starts.
 */
import { parseQuantity } from '../../common/api/quantity.js';
import type { EvictionReserve } from '../node/node-status.js';

export const Signals = ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available'] as const;
export type Signal = (typeof Signals)[number];

/** A quantity (bytes, inodes or PIDs) or a fraction (0..1) of the signal's capacity. */
export type ThresholdValue = { quantity: number } | { percentage: number };

export interface Threshold {
  signal: Signal;
  value: ThresholdValue;
  /** 0 for a hard threshold. */
  gracePeriodMs: number;
  hard: boolean;
  minReclaim?: ThresholdValue;
}

/** The kubelet's default hard thresholds on Linux (DefaultEvictionHard). */
export const DefaultEvictionHard: Readonly<Record<string, string>> = {
  'memory.available': '100Mi',
  'nodefs.available': '10%',
  'nodefs.inodesFree': '5%',
  'imagefs.available': '15%',
};

export interface EvictionSettings {
  evictionHard: Readonly<Record<string, string>>;
  evictionSoft: Readonly<Record<string, string>>;
  evictionSoftGracePeriodMs: Readonly<Record<string, number>>;
  evictionMinimumReclaim: Readonly<Record<string, string>>;
}

/** A bad setting: which map, which signal, and what is wrong; the caller names the file or flag. */
export class ThresholdError extends Error {
  constructor(
    readonly field: string,
    readonly value: string,
    expected: string,
  ) {
    super(expected);
  }
}

function isSignal(name: string): name is Signal {
  return (Signals as readonly string[]).includes(name);
}

/** "100Mi", "5%", "0.5%" -> a ThresholdValue; undefined when it is neither. */
export function parseThresholdValue(text: string): ThresholdValue | undefined {
  const trimmed = text.trim();
  if (trimmed.endsWith('%')) {
    const percent = Number(trimmed.slice(0, -1));
    return Number.isFinite(percent) && percent >= 0 && percent <= 100 ? { percentage: percent / 100 } : undefined;
  }
  const quantity = parseQuantity(trimmed);
  return quantity !== undefined && quantity >= 0 ? { quantity } : undefined;
}

/**
 * The thresholds, hard then soft. A signal dockerlet does not know, a value that is neither a
 * quantity nor a percentage, a soft threshold without a grace period, or a grace period or
 * minimum reclaim for a signal with no threshold is an error naming the field.
 */
export function parseThresholds(settings: EvictionSettings): Threshold[] {
  const value = (field: string, signal: string, text: string): ThresholdValue => {
    if (!isSignal(signal)) throw new ThresholdError(`${field}.${signal}`, text, `is not an eviction signal dockerlet knows: ${Signals.join(', ')}`);
    const parsed = parseThresholdValue(text);
    if (!parsed) throw new ThresholdError(`${field}.${signal}`, text, 'must be a quantity such as 100Mi or a percentage such as 10%');
    return parsed;
  };
  const minReclaim = (signal: Signal): ThresholdValue | undefined => {
    const text = settings.evictionMinimumReclaim[signal];
    return text === undefined ? undefined : value('evictionMinimumReclaim', signal, text);
  };
  const thresholds: Threshold[] = [];
  for (const [signal, text] of Object.entries(settings.evictionHard)) {
    const parsed = value('evictionHard', signal, text);
    // A threshold of 0 (or 0%) turns the signal off, as the kubelet's parser drops it.
    if ('quantity' in parsed ? parsed.quantity === 0 : parsed.percentage === 0) continue;
    const reclaim = minReclaim(signal as Signal);
    thresholds.push({ signal: signal as Signal, value: parsed, gracePeriodMs: 0, hard: true, ...(reclaim ? { minReclaim: reclaim } : {}) });
  }
  for (const [signal, text] of Object.entries(settings.evictionSoft)) {
    const parsed = value('evictionSoft', signal, text);
    const grace = settings.evictionSoftGracePeriodMs[signal];
    if (grace === undefined || grace <= 0) throw new ThresholdError(`evictionSoftGracePeriod.${signal}`, String(grace ?? ''), 'a soft threshold needs a grace period, such as 1m30s');
    const reclaim = minReclaim(signal as Signal);
    thresholds.push({ signal: signal as Signal, value: parsed, gracePeriodMs: grace, hard: false, ...(reclaim ? { minReclaim: reclaim } : {}) });
  }
  for (const signal of Object.keys(settings.evictionSoftGracePeriodMs)) {
    if (!(signal in settings.evictionSoft)) throw new ThresholdError(`evictionSoftGracePeriod.${signal}`, String(settings.evictionSoftGracePeriodMs[signal]), 'has no evictionSoft threshold');
  }
  for (const signal of Object.keys(settings.evictionMinimumReclaim)) {
    if (!thresholds.some((t) => t.signal === signal)) throw new ThresholdError(`evictionMinimumReclaim.${signal}`, settings.evictionMinimumReclaim[signal]!, 'has no evictionHard or evictionSoft threshold');
  }
  return thresholds;
}

/** The threshold's value against a signal's capacity, in the signal's unit. */
export function thresholdQuantity(value: ThresholdValue, capacity: number): number {
  return 'quantity' in value ? value.quantity : Math.trunc(value.percentage * capacity);
}

/** A byte count as a Kubernetes quantity: the largest binary suffix that divides it, else a plain number. */
export function formatBytesQuantity(bytes: number): string {
  for (const [suffix, size] of [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(Math.round(bytes));
}

/** The hard thresholds of memory.available and nodefs.available: what the node's allocatable leaves out of its capacity. */
export function evictionReserve(thresholds: readonly Threshold[]): EvictionReserve {
  const hard = (signal: Signal): ThresholdValue | undefined => thresholds.find((threshold) => threshold.hard && threshold.signal === signal)?.value;
  const memory = hard('memory.available');
  const ephemeralStorage = hard('nodefs.available');
  return { ...(memory ? { memory } : {}), ...(ephemeralStorage ? { ephemeralStorage } : {}) };
}

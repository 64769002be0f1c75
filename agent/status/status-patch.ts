/**
 * The body of a pods/status strategic merge patch that makes the API's status the agent's.
 * A strategic merge keeps what a patch leaves out: a condition's reason from when it was False,
 * the pod's message once it has none, a pod IP of an earlier sandbox. The kubelet avoids that by
 * diffing against the status it read; sending no GET, the agent instead states each field it
 * owns whose list or map the server merges: null where it has no value, so that the merge
 * removes it. Of PodStatus's lists, conditions merge by type (others' conditions, such as
 * readiness gates', are left alone, as the kubelet leaves them), podIPs and hostIPs by ip (the
 * agent's replace them whole: `$patch: replace`); container statuses are replaced whole anyway.
 */
import type { PodCondition, PodStatus } from '../../common/api/types.js';

type Nullable<T> = { [K in keyof T]: T[K] | null };

function withNulls<T extends object>(value: T, keys: ReadonlyArray<keyof T>): Nullable<T> {
  const out: Nullable<T> = { ...value };
  for (const key of keys) if (out[key] === undefined) out[key] = null;
  return out;
}

function condition(value: PodCondition): Nullable<PodCondition> {
  return withNulls(value, ['reason', 'message', 'lastProbeTime']);
}

/** A merged list given whole: the server drops what the patch does not name. */
const replaced = <T>(list: readonly T[]): unknown[] => [{ $patch: 'replace' }, ...list];

export function statusPatch(status: PodStatus): Record<string, unknown> {
  return {
    ...withNulls(status, ['reason', 'message']),
    ...(status.conditions ? { conditions: status.conditions.map(condition) } : {}),
    ...(status.podIPs ? { podIPs: replaced(status.podIPs) } : {}),
    ...(status.hostIPs ? { hostIPs: replaced(status.hostIPs) } : {}),
  };
}

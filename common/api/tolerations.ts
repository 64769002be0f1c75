/** Whether a pod's tolerations tolerate a taint (core/v1 Toleration.ToleratesTaint). */
import type { Taint, Toleration } from './types.js';

export function toleratesTaint(tolerations: readonly Toleration[] | undefined, taint: Pick<Taint, 'key' | 'effect'> & { value?: string }): boolean {
  return (tolerations ?? []).some((toleration) => {
    if (toleration.effect && toleration.effect !== taint.effect) return false;
    // An empty key with Exists tolerates every taint.
    if (toleration.key ? toleration.key !== taint.key : toleration.operator !== 'Exists') return false;
    return toleration.operator === 'Exists' || (toleration.value ?? '') === (taint.value ?? '');
  });
}

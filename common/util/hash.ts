/**
 * Hashes used for identities that must stay stable across restarts: static pod UIDs
 * (the kubelet uses FNV-128a over a deep print of the pod) and container spec hashes.
 */

const FNV128_OFFSET = 0x6c62272e07bb014262b821756295c58dn;
const FNV128_PRIME = 0x0000000001000000000000000000013bn;
const MASK128 = (1n << 128n) - 1n;

/** FNV-1a, 128 bits, over the UTF-8 bytes of `input`; 32 lowercase hex digits. */
export function fnv128a(input: string): string {
  let hash = FNV128_OFFSET;
  for (const byte of Buffer.from(input, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * FNV128_PRIME) & MASK128;
  }
  return hash.toString(16).padStart(32, '0');
}

/** JSON with object keys sorted, so equal values always print the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}

/** Short stable hash of any JSON value (container spec hashes). */
export function hashObject(value: unknown): string {
  return fnv128a(canonicalJson(value)).slice(0, 16);
}

/**
 * Hashes used for identities that must stay stable across restarts: static pod UIDs
 * (the kubelet uses FNV-128a over a deep print of the pod) and container spec hashes.
 */

/** The FNV-128 offset basis 0x6c62272e07bb014262b821756295c58d, as eight 16-bit limbs, least significant first. */
const Fnv128Offset = [0xc58d, 0x6295, 0x2175, 0x62b8, 0x0142, 0x07bb, 0x272e, 0x6c62] as const;
/** The FNV-128 prime is 2^88 + 0x13b: a multiplication is a shift by 88 bits plus a product with 0x13b. */
const Fnv128PrimeLow = 0x13b;

/**
 * FNV-1a, 128 bits, over the UTF-8 bytes of `input`; 32 lowercase hex digits. Computed on 16-bit
 * limbs in plain numbers (a 10 MB input takes milliseconds, where BigInt arithmetic took most of a
 * second), with the same result bit for bit.
 */
export function fnv128a(input: string): string {
  let hash: number[] = [...Fnv128Offset];
  let next: number[] = new Array<number>(8);
  for (const byte of Buffer.from(input, 'utf8')) {
    hash[0] = hash[0]! ^ byte;
    let carry = 0;
    for (let i = 0; i < 8; i++) {
      const value = hash[i]! * Fnv128PrimeLow + carry;
      next[i] = value & 0xffff;
      carry = Math.floor(value / 0x10000);
    }
    // + hash << 88: limbs 5, 6 and 7 take the low 40 bits of the hash, shifted by 8.
    carry = 0;
    for (let i = 5; i < 8; i++) {
      const shifted = ((hash[i - 5]! << 8) | (i >= 6 ? hash[i - 6]! >>> 8 : 0)) & 0xffff;
      const value = next[i]! + shifted + carry;
      next[i] = value & 0xffff;
      carry = value >>> 16;
    }
    [hash, next] = [next, hash];
  }
  return hash.map((limb) => limb.toString(16).padStart(4, '0')).reverse().join('');
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

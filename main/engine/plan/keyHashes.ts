/**
 * 64-bit hashes of (target db, key) in a growable typed array: 8 bytes a key, so the keys of
 * tens of millions of sources fit a laptop while collisions between sources are looked for.
 * Two 32-bit FNV-1a variants make the 64 bits; candidates are confirmed on the real keys later.
 */
export class KeyHashes {
  private data = new BigUint64Array(1024);
  length = 0;

  add(db: number, key: Uint8Array): void {
    if (this.length === this.data.length) {
      const grown = new BigUint64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = keyHash(db, key);
  }

  /** The distinct hashes, sorted. */
  sortedUnique(): BigUint64Array {
    const sorted = this.data.subarray(0, this.length).sort();
    let n = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i];
    return sorted.subarray(0, n);
  }
}

export function keyHash(db: number, key: Uint8Array): bigint {
  let a = 0x811c9dc5 ^ db;
  let b = 0x01000193 ^ (db * 2654435761);
  for (let i = 0; i < key.length; i++) {
    a = Math.imul(a ^ key[i], 0x01000193);
    b = Math.imul(b ^ key[i], 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (BigInt(a >>> 0) << 32n) | BigInt((b ^ key.length) >>> 0);
}

/** Hashes present in at least two of the de-duplicated lists, sorted. */
export function sharedHashes(lists: BigUint64Array[]): BigUint64Array {
  const all = new BigUint64Array(lists.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const list of lists) {
    all.set(list, at);
    at += list.length;
  }
  all.sort();
  // Each list holds a hash at most once, so a run of equal neighbours means two writers or more.
  const shared: bigint[] = [];
  for (let i = 1; i < all.length; i++) if (all[i] === all[i - 1] && (shared.length === 0 || shared[shared.length - 1] !== all[i])) shared.push(all[i]);
  return BigUint64Array.from(shared);
}

/** Binary search in a sorted list. */
export function hasHash(sorted: BigUint64Array, hash: bigint): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid];
    if (v === hash) return true;
    if (v < hash) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

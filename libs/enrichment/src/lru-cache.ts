/**
 * A size-bounded least-recently-used cache on top of Map's insertion order: a hit moves the entry
 * to the end, an insert over capacity evicts the first (oldest) entry. Enrichment runs on every
 * event and the same user agents repeat, but the key space is attacker-controlled, so no
 * per-key memory may grow without a bound.
 */
export class LruCache<K, V> {
  readonly #map = new Map<K, V>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
  }
}

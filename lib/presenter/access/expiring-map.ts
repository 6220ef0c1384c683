/**
 * A string-keyed map of entries that carry their own expiry (epoch ms). Guarantees: it never holds
 * more than `maxEntries` (writing past that drops the entry written longest ago: a write moves a
 * key to the newest end), and `prune(nowMs)` removes every expired entry, so memory follows what
 * is in use and not everything ever asked.
 */
export class ExpiringMap<V extends { expiresAt: number }> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Removes every entry `drop` selects; returns how many (a full scan: for rare events, not the hot path). */
  deleteWhere(drop: (key: string, value: V) => boolean): number {
    let dropped = 0;
    for (const [key, value] of this.entries) if (drop(key, value) && this.entries.delete(key)) dropped++;
    return dropped;
  }

  prune(nowMs: number): void {
    for (const [key, value] of this.entries) if (value.expiresAt <= nowMs) this.entries.delete(key);
  }
}

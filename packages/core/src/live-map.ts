/**
 * A Map for objects that come and go (the engine's running executions), whose entries let go
 * of their values when deleted. V8 (our reading) leaves a Map's earlier hash tables, replaced
 * as entries come and go, holding the entries they had; such a table that reached the old
 * generation keeps those objects reachable to young-generation collections until the next
 * full one, so finished executions were copied and promoted instead of dying young. Here the
 * tables hold a box per entry, emptied on delete: garbage can keep only the empty box. The
 * "Map churn" line of `pnpm bench --only=engine-long` measures both.
 */
export class LiveMap<K, V> implements ReadonlyMap<K, V> {
  private readonly boxes = new Map<K, { value: V | undefined }>();

  get size(): number {
    return this.boxes.size;
  }

  get(key: K): V | undefined {
    return this.boxes.get(key)?.value;
  }

  has(key: K): boolean {
    return this.boxes.has(key);
  }

  set(key: K, value: V): this {
    const box = this.boxes.get(key);
    if (box !== undefined) box.value = value;
    else this.boxes.set(key, { value });
    return this;
  }

  delete(key: K): boolean {
    const box = this.boxes.get(key);
    if (box === undefined) return false;
    box.value = undefined;
    return this.boxes.delete(key);
  }

  *entries(): MapIterator<[K, V]> {
    for (const [k, box] of this.boxes) yield [k, box.value as V];
  }

  keys(): MapIterator<K> {
    return this.boxes.keys();
  }

  *values(): MapIterator<V> {
    for (const box of this.boxes.values()) yield box.value as V;
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (const [k, box] of this.boxes) fn(box.value as V, k, this);
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

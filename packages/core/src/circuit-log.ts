export interface CircuitChange {
  n: number;
  key: string;
  from: string;
  to: string;
  at: number;
}

/**
 * Recent circuit transitions, numbered. A step remembers the last number it saw and
 * journals the transitions of its circuit key since then: the opening in the execution
 * whose failure opened it, the half-open probe and the close in the one that probed.
 */
export class CircuitLog {
  n = 0;
  private items: CircuitChange[] = [];

  record(key: string, from: string, to: string, at: number): void {
    this.items.push({ n: ++this.n, key, from, to, at });
    if (this.items.length > 256) this.items = this.items.slice(-128);
  }

  since(n: number, key: string): CircuitChange[] | undefined {
    if (n >= this.n) return undefined;
    let out: CircuitChange[] | undefined;
    for (const c of this.items) {
      if (c.n <= n || c.key !== key) continue;
      out ??= [];
      out.push(c);
    }
    return out;
  }
}

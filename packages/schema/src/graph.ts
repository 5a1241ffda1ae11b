/**
 * The step graph: topological order (Kahn), dependency cycles, and "is x upstream of y"
 * queries. Ancestor sets are bitsets filled in topological order (one OR of n/32 words
 * per edge): 1,000 steps in a chain take 128 KB and well under a millisecond.
 */
export interface StepGraph {
  /** Acyclic steps in topological order (dependencies first; ties in document order). */
  order: number[];
  /** Steps in a cycle or downstream of one: no ancestor information for these. */
  blocked: Set<number>;
  /** Each cycle as step indices, `[a, b, c]` meaning a depends on b, b on c, c on a. */
  cycles: number[][];
  /** True when x is a (transitive) dependency of y; false when either is blocked. */
  isUpstream(x: number, y: number): boolean;
}

/** `deps[i]`: indices of the steps that step i depends on (unique, known ids only). */
export function buildGraph(deps: readonly (readonly number[])[]): StepGraph {
  const n = deps.length;
  const dependents: number[][] = Array.from({ length: n }, () => []);
  const pending = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    pending[i] = deps[i]!.length;
    for (const d of deps[i]!) dependents[d]!.push(i);
  }
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) order.push(i);
  for (let k = 0; k < order.length; k++) {
    for (const j of dependents[order[k]!]!) if (--pending[j]! === 0) order.push(j);
  }

  const blocked = new Set<number>();
  for (let i = 0; i < n; i++) if (pending[i]! > 0) blocked.add(i);
  const cycles = blocked.size > 0 ? findCycles(deps, blocked) : [];

  const words = (n + 31) >>> 5;
  const anc = new Uint32Array(order.length > 0 ? n * words : 0);
  for (const i of order) {
    const base = i * words;
    for (const d of deps[i]!) {
      const dBase = d * words;
      for (let w = 0; w < words; w++) anc[base + w]! |= anc[dBase + w]!;
      anc[base + (d >>> 5)]! |= 1 << (d & 31);
    }
  }
  return {
    order,
    blocked,
    cycles,
    isUpstream(x, y) {
      if (blocked.has(x) || blocked.has(y)) return false;
      return ((anc[y * words + (x >>> 5)]! >>> (x & 31)) & 1) === 1;
    },
  };
}

/**
 * One cycle per group of blocked steps, starting from the lowest index: a breadth-first
 * search along dependencies back to the start gives the shortest cycle through it.
 */
function findCycles(deps: readonly (readonly number[])[], blocked: ReadonlySet<number>): number[][] {
  const cycles: number[][] = [];
  const reported = new Set<number>();
  for (const start of [...blocked].sort((a, b) => a - b)) {
    if (reported.has(start)) continue;
    const parent = new Map<number, number>();
    const queue = [start];
    let closing = -1;
    for (let k = 0; k < queue.length && closing < 0; k++) {
      const v = queue[k]!;
      for (const d of deps[v]!) {
        if (!blocked.has(d)) continue;
        if (d === start) {
          closing = v;
          break;
        }
        if (!parent.has(d)) {
          parent.set(d, v);
          queue.push(d);
        }
      }
    }
    if (closing < 0) continue; // downstream of a cycle, not in one
    const path = [closing];
    while (path[path.length - 1] !== start) path.push(parent.get(path[path.length - 1]!)!);
    path.reverse(); // start ... closing, each depending on the next
    if (path.some((v) => reported.has(v))) continue;
    for (const v of path) reported.add(v);
    cycles.push(path);
  }
  return cycles;
}

/**
 * The step graph: topological order (Kahn), dependency cycles, and "is x upstream of y"
 * queries. Time and memory stay proportional to the number of steps and dependencies:
 * ancestor sets (n² bits) are never built, since a 100,000-step chain would need 1.25 GB.
 *
 * A query is answered by cheap certificates first: a direct dependency; depth (the
 * longest path from a root), which only grows downstream; and a spanning forest in
 * which each step hangs under its deepest dependency, where ancestry is an interval test.
 * Chains, fan-ins and fan-outs are trees in that forest. Only what they cannot decide
 * walks the dependencies back from y, pruned by depth; its answers are memoised.
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
  const dependents = reverse(deps);
  const pending = new Int32Array(n);
  for (let i = 0; i < n; i++) pending[i] = deps[i]!.length;
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) order.push(i);
  for (let k = 0; k < order.length; k++) {
    const v = order[k]!;
    for (let e = dependents.start[v]!; e < dependents.start[v + 1]!; e++) {
      const j = dependents.list[e]!;
      if (--pending[j]! === 0) order.push(j);
    }
  }

  const blocked = new Set<number>();
  for (let i = 0; i < n; i++) if (pending[i]! > 0) blocked.add(i);
  const cycles = blocked.size > 0 ? findCycles(deps, blocked) : [];

  // Depth and the spanning forest (parent = the deepest dependency), in topological order.
  const depth = new Int32Array(n);
  const parent = new Int32Array(n).fill(-1);
  for (const i of order) {
    let best = -1;
    for (const d of deps[i]!) if (best < 0 || depth[d]! > depth[best]!) best = d;
    if (best >= 0) {
      parent[i] = best;
      depth[i] = depth[best]! + 1;
    }
  }
  const { pre, size } = preorder(parent, order);
  const treeAncestor = (x: number, y: number) => pre[x]! <= pre[y]! && pre[y]! < pre[x]! + size[x]!;

  // Direct dependencies, for steps with many (a join of thousands): a set per such step, of
  // small integers (one set keyed by y * n + x would box each key above 2^31 as a heap number).
  const many = new Map<number, Set<number>>();
  for (let i = 0; i < n; i++) if (deps[i]!.length > 8) many.set(i, new Set(deps[i]));
  const isDependency = (x: number, y: number) => many.get(y)?.has(x) ?? deps[y]!.includes(x);

  const memo = new Map<number, boolean>();
  const seen = new Int32Array(n);
  let stamp = 0;
  /** Walks back from y through steps deep enough to have x upstream. */
  const search = (x: number, y: number): boolean => {
    stamp++;
    const stack = [y];
    seen[y] = stamp;
    while (stack.length > 0) {
      const v = stack.pop()!;
      for (const d of deps[v]!) {
        if (d === x || (depth[d]! > depth[x]! && treeAncestor(x, d))) return true;
        if (depth[d]! <= depth[x]! || seen[d] === stamp) continue;
        seen[d] = stamp;
        stack.push(d);
      }
    }
    return false;
  };

  return {
    order,
    blocked,
    cycles,
    isUpstream(x, y) {
      if (x === y || blocked.has(x) || blocked.has(y)) return false;
      if (depth[x]! >= depth[y]!) return false;
      if (treeAncestor(x, y) || isDependency(x, y)) return true;
      const key = y * n + x;
      let r = memo.get(key);
      if (r === undefined) {
        r = search(x, y);
        memo.set(key, r);
      }
      return r;
    },
  };
}

/** The reversed adjacency in compressed form: dependents of v are list[start[v] .. start[v+1]). */
function reverse(deps: readonly (readonly number[])[]): { start: Int32Array; list: Int32Array } {
  const n = deps.length;
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) for (const d of deps[i]!) start[d + 1]!++;
  for (let v = 0; v < n; v++) start[v + 1]! += start[v]!;
  const fill = start.slice(0, n);
  const list = new Int32Array(start[n]!);
  for (let i = 0; i < n; i++) for (const d of deps[i]!) list[fill[d]!++] = i;
  return { start, list };
}

/** Preorder numbers and subtree sizes of the forest given by `parent` (iterative: forests can be 100,000 deep). */
function preorder(parent: Int32Array, order: readonly number[]): { pre: Int32Array; size: Int32Array } {
  const n = parent.length;
  // Children in compressed form, as in reverse(): those of p are list[start[p] .. start[p+1]).
  const start = new Int32Array(n + 1);
  for (let v = 0; v < n; v++) if (parent[v]! >= 0) start[parent[v]! + 1]!++;
  for (let v = 0; v < n; v++) start[v + 1]! += start[v]!;
  const fill = start.slice(0, n);
  const list = new Int32Array(start[n]!);
  for (let v = 0; v < n; v++) if (parent[v]! >= 0) list[fill[parent[v]!]!++] = v;
  const pre = new Int32Array(n);
  const size = new Int32Array(n).fill(1);
  let next = 0;
  const stack: number[] = [];
  for (const root of order) {
    if (parent[root]! >= 0) continue;
    stack.push(root);
    while (stack.length > 0) {
      const v = stack.pop()!;
      pre[v] = next++;
      for (let e = start[v + 1]! - 1; e >= start[v]!; e--) stack.push(list[e]!);
    }
  }
  // Sizes bottom-up: children come after their parent in `order`.
  for (let k = order.length - 1; k >= 0; k--) {
    const v = order[k]!;
    if (parent[v]! >= 0) size[parent[v]!]! += size[v]!;
  }
  return { pre, size };
}

/**
 * One cycle per group of blocked steps, starting from the lowest index: a breadth-first
 * search along dependencies back to the start gives the shortest cycle through it. Only
 * steps of a strongly connected component (a cycle) start a search, and it stays inside
 * that component, so steps downstream of a cycle cost nothing.
 */
function findCycles(deps: readonly (readonly number[])[], blocked: ReadonlySet<number>): number[][] {
  const component = components(deps, blocked);
  const cycles: number[][] = [];
  const reported = new Set<number>();
  for (const start of [...blocked].sort((a, b) => a - b)) {
    if (reported.has(start) || component.get(start) === undefined) continue;
    const c = component.get(start);
    const parent = new Map<number, number>();
    const queue = [start];
    let closing = -1;
    for (let k = 0; k < queue.length && closing < 0; k++) {
      const v = queue[k]!;
      for (const d of deps[v]!) {
        if (component.get(d) !== c) continue;
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
    if (closing < 0) continue;
    const path = [closing];
    while (path[path.length - 1] !== start) path.push(parent.get(path[path.length - 1]!)!);
    path.reverse(); // start ... closing, each depending on the next
    if (path.some((v) => reported.has(v))) continue;
    for (const v of path) reported.add(v);
    cycles.push(path);
  }
  return cycles;
}

/**
 * Strongly connected components of the blocked steps (Tarjan, iterative), keeping only
 * those that hold a cycle: several steps, or one that depends on itself.
 */
function components(deps: readonly (readonly number[])[], blocked: ReadonlySet<number>): Map<number, number> {
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const out = new Map<number, number>();
  let counter = 0;
  let id = 0;
  for (const root of blocked) {
    if (index.has(root)) continue;
    // Frames: [step, position in its dependency list].
    const frames: [number, number][] = [[root, 0]];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const [v, k] = frame;
      const list = deps[v]!;
      if (k < list.length) {
        frame[1]++;
        const d = list[k]!;
        if (!blocked.has(d)) continue;
        if (!index.has(d)) {
          index.set(d, counter);
          low.set(d, counter++);
          stack.push(d);
          onStack.add(d);
          frames.push([d, 0]);
        } else if (onStack.has(d)) low.set(v, Math.min(low.get(v)!, index.get(d)!));
        continue;
      }
      frames.pop();
      const up = frames[frames.length - 1];
      if (up) low.set(up[0], Math.min(low.get(up[0])!, low.get(v)!));
      if (low.get(v) !== index.get(v)) continue;
      const members: number[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        members.push(w);
        if (w === v) break;
      }
      if (members.length > 1 || list.includes(v)) {
        for (const w of members) out.set(w, id);
        id++;
      }
    }
  }
  return out;
}

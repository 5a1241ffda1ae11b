/**
 * "Did you mean" suggestions for misspelt names: fields, step ids, agent ids.
 */

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two adjacent
 * characters (optimal string alignment): `dependecnies` is one edit from `dependencies`.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  // Three rows: the swap looks two rows back.
  let before = new Array<number>(n + 1).fill(0);
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j <= n; j++) {
      const bj = b.charCodeAt(j - 1);
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (ai === bj ? 0 : 1));
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj)
        d = Math.min(d, before[j - 2]! + 1);
      cur[j] = d;
    }
    [before, prev, cur] = [prev, cur, before];
  }
  return prev[n]!;
}

const SEPARATORS = new Set(['-', '_', '.', '/', '@', ':']);

function commonPrefix(a: string, b: string): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

/**
 * The candidate the name most likely misspells, or undefined. Case is ignored. First the
 * closest within a few edits: a third of what differs after their common prefix, so that
 * `@orchestr8/eco` suggests `@orchestr8/echo` but `@orchestr8/zzz` nothing. Else the only
 * candidate that shares a stem of at least four characters, half the shorter name, and
 * parts inside a word (`dependsOn` -> `dependencies`; `fetch-orders` not `fetch-all`).
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  let stem: string | undefined;
  let stemLength = 0;
  let stemTied = false;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    const p = commonPrefix(lower, cl);
    const limit = Math.max(1, Math.floor(Math.max(name.length - p, c.length - p) / 3));
    const d = editDistance(lower, cl) + (c === name ? 0 : cl === lower ? 0.5 : 0);
    if (d <= limit && d < bestD && d < name.length && d < c.length) {
      best = c;
      bestD = d;
    }
    if (p < 4 || p < Math.min(name.length, c.length) / 2 || SEPARATORS.has(lower[p - 1]!)) continue;
    if (p > stemLength) {
      stem = c;
      stemLength = p;
      stemTied = false;
    } else if (p === stemLength) stemTied = true;
  }
  return best ?? (stemTied ? undefined : stem);
}

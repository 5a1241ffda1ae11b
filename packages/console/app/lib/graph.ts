/**
 * The graph of a workflow: its steps and dependencies, read from the document, laid out in
 * layers with dagre (a well-kept Sugiyama implementation, small and synchronous; elkjs lays
 * out better but ships ten times the code). A layout is computed once per definition and
 * cached; live updates only recolour nodes. Above `SIMPLIFY_ABOVE` steps the graph is drawn
 * simplified (small nodes, no labels inside, straight edges) so it stays smooth to pan.
 */
import { Graph, layout } from '@dagrejs/dagre';

export interface StepDef {
  id: string;
  name?: string;
  agent?: string;
  dependencies: string[];
  forEach: boolean;
  fallbackStepId?: string;
  /** Another step names this one as its fallback: it runs only in that step's place. */
  fallbackOnly: boolean;
  wait?: string;
  onError?: string;
}

export interface GraphNode {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  step: StepDef;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  kind: 'dependency' | 'fallback';
}

export interface GraphModel {
  nodes: GraphNode[];
  edges: GraphEdge[];
  simplified: boolean;
  width: number;
  height: number;
}

export const SIMPLIFY_ABOVE = 200;

const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function agentName(agent: unknown): string | undefined {
  if (typeof agent === 'string') return agent;
  const a = asRecord(agent);
  if (typeof a.id === 'string') return a.id;
  if (typeof a.url === 'string') return a.url;
  return undefined;
}

/** The steps of a workflow document (as stored: JSON), in document order. Tolerates anything. */
export function stepsOfDocument(document: unknown): StepDef[] {
  const steps = asRecord(document).steps;
  if (!Array.isArray(steps)) return [];
  const out: StepDef[] = [];
  const fallbacks = new Set<string>();
  for (const raw of steps) {
    const s = asRecord(raw);
    if (typeof s.id !== 'string') continue;
    const deps = Array.isArray(s.dependencies)
      ? s.dependencies.filter((d): d is string => typeof d === 'string')
      : [];
    const def: StepDef = {
      id: s.id,
      dependencies: [...new Set(deps)],
      forEach: s.forEach !== undefined,
      fallbackOnly: false,
    };
    if (typeof s.name === 'string') def.name = s.name;
    const agent = agentName(s.agent);
    if (agent !== undefined) def.agent = agent;
    if (typeof s.fallbackStepId === 'string') {
      def.fallbackStepId = s.fallbackStepId;
      fallbacks.add(s.fallbackStepId);
    }
    if (typeof s.onError === 'string') def.onError = s.onError;
    const wait = asRecord(s.wait);
    if (s.wait !== undefined) def.wait = typeof wait.kind === 'string' ? wait.kind : 'wait';
    out.push(def);
  }
  for (const d of out) if (fallbacks.has(d.id)) d.fallbackOnly = true;
  return out;
}

/** Lays out the steps top to bottom; a fallback is drawn beside the step it stands in for. */
export function layoutGraph(steps: readonly StepDef[], options: { simplifyAbove?: number } = {}): GraphModel {
  const simplified = steps.length > (options.simplifyAbove ?? SIMPLIFY_ABOVE);
  const width = simplified ? 36 : 180;
  const height = simplified ? 18 : 52;
  const g = new Graph({ multigraph: false });
  g.setGraph({
    rankdir: 'TB',
    nodesep: simplified ? 8 : 28,
    ranksep: simplified ? 24 : 48,
    marginx: 8,
    marginy: 8,
    // Large graphs: the quicker ranker (layers by longest path) halves the layout time.
    ...(simplified ? { ranker: 'longest-path' } : {}),
  });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(steps.map((s) => s.id));
  for (const s of steps) g.setNode(s.id, { width, height });
  const edges: GraphEdge[] = [];
  for (const s of steps) {
    for (const d of s.dependencies) {
      if (!ids.has(d)) continue;
      g.setEdge(d, s.id);
      edges.push({ id: `${d}->${s.id}`, source: d, target: s.id, kind: 'dependency' });
    }
    if (s.fallbackStepId !== undefined && ids.has(s.fallbackStepId)) {
      // Not a layout edge when the fallback already depends on the step: no duplicate.
      if (!g.hasEdge(s.id, s.fallbackStepId)) g.setEdge(s.id, s.fallbackStepId, { minlen: 1 });
      edges.push({
        id: `${s.id}=>${s.fallbackStepId}`,
        source: s.id,
        target: s.fallbackStepId,
        kind: 'fallback',
      });
    }
  }
  // Large graphs skip the last pass of crossing reduction, the costliest for wide layers.
  layout(g, simplified ? { disableOptimalOrderHeuristic: true } : {});
  const graph = g.graph();
  const nodes: GraphNode[] = steps.map((s) => {
    const n = g.node(s.id) as { x: number; y: number };
    // dagre gives centres; the renderer wants top-left corners.
    return { id: s.id, x: n.x - width / 2, y: n.y - height / 2, width, height, step: s };
  });
  return { nodes, edges, simplified, width: graph.width ?? 0, height: graph.height ?? 0 };
}

const cache = new Map<string, GraphModel>();
const CACHED = 20;

/** The layout of a definition, computed once per content hash. */
export function cachedLayout(hash: string, document: unknown): GraphModel {
  const hit = cache.get(hash);
  if (hit) return hit;
  const model = layoutGraph(stepsOfDocument(document));
  if (cache.size >= CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(hash, model);
  return model;
}

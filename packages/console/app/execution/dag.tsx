import {
  Background,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { memo, useMemo, useRef } from 'react';
import type { GraphModel } from '../lib/graph.js';
import { statusStyle, statusVar } from '../lib/status.js';

export interface NodeState {
  status: string;
  attempts: number;
  items?: number;
  fellBackTo?: string;
  fallbackFor?: string;
}

type StepNodeData = { label: string; sub: string; status: string; selected: boolean; title: string };

const hidden = { opacity: 0, pointerEvents: 'none' as const };

const StepNode = memo(function StepNode({ id, data }: NodeProps<Node<StepNodeData>>) {
  const s = statusStyle(data.status);
  return (
    <div
      className={`step-node${data.selected ? ' selected' : ''}`}
      style={{ background: statusVar(data.status) }}
      data-step={id}
      data-status={data.status}
      title={data.title}
    >
      <Handle type="target" position={Position.Top} style={hidden} isConnectable={false} />
      <div className="id">
        <span aria-hidden="true">{s.mark} </span>
        {data.label}
      </div>
      <div className="sub">{data.sub}</div>
      <Handle type="source" position={Position.Bottom} style={hidden} isConnectable={false} />
    </div>
  );
});

/** Above the simplification threshold: a coloured box, its id in the tooltip. */
const DotNode = memo(function DotNode({ id, data }: NodeProps<Node<StepNodeData>>) {
  return (
    <div
      className={`step-dot${data.selected ? ' selected' : ''}`}
      style={{ background: statusVar(data.status) }}
      data-step={id}
      data-status={data.status}
      title={data.title}
    >
      <Handle type="target" position={Position.Top} style={hidden} isConnectable={false} />
      <Handle type="source" position={Position.Bottom} style={hidden} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { step: StepNode, dot: DotNode };

function subtitle(
  state: NodeState | undefined,
  agent: string | undefined,
  forEach: boolean,
  fallbackOnly: boolean,
): string {
  const parts: string[] = [state?.status ?? 'pending'];
  if (state && state.attempts > 1) parts.push(`${state.attempts} attempts`);
  if (forEach) parts.push(state?.items !== undefined ? `forEach ×${state.items}` : 'forEach');
  if (fallbackOnly) parts.push('fallback');
  if (state?.fellBackTo) parts.push(`→ ${state.fellBackTo}`);
  if (!forEach && !fallbackOnly && agent && parts.length === 1) parts.push(agent);
  return parts.join(' · ');
}

/** Memoised: the page re-renders every second while an execution runs (its clock); the graph need not. */
export const Dag = memo(function Dag(props: {
  model: GraphModel;
  states: Record<string, NodeState>;
  selected: string | undefined;
  onSelect: (stepId: string) => void;
}) {
  const { model, states, selected, onSelect } = props;
  // A node whose status did not change keeps its object, so a live update re-renders only
  // the nodes it changed (a few out of 1,000), not the whole graph.
  const previous = useRef(new Map<string, Node<StepNodeData>>());
  const nodes: Node<StepNodeData>[] = useMemo(() => {
    const before = previous.current;
    const next = new Map<string, Node<StepNodeData>>();
    const out = model.nodes.map((n) => {
      const st = states[n.id];
      const status = st?.status ?? 'pending';
      const sub = subtitle(st, n.step.agent, n.step.forEach, n.step.fallbackOnly);
      const isSelected = n.id === selected;
      const old = before.get(n.id);
      if (
        old &&
        old.data.status === status &&
        old.data.sub === sub &&
        old.data.selected === isSelected &&
        old.position.x === n.x &&
        old.position.y === n.y
      ) {
        next.set(n.id, old);
        return old;
      }
      const node: Node<StepNodeData> = {
        id: n.id,
        type: model.simplified ? 'dot' : 'step',
        position: { x: n.x, y: n.y },
        width: n.width,
        height: n.height,
        draggable: false,
        connectable: false,
        selected: isSelected,
        ariaLabel: `step ${n.id}: ${sub}`,
        data: { label: n.step.name ?? n.id, sub, status, selected: isSelected, title: `${n.id}: ${sub}` },
      };
      next.set(n.id, node);
      return node;
    });
    previous.current = next;
    return out;
  }, [model, states, selected]);
  const edges: Edge[] = useMemo(
    () =>
      model.edges.map((e) => ({
        id: e.id,
        source: e.source,
        target: e.target,
        type: model.simplified ? 'straight' : 'smoothstep',
        animated: false,
        focusable: false,
        ...(e.kind === 'fallback'
          ? { style: { strokeDasharray: '5 4' }, label: model.simplified ? undefined : 'fallback' }
          : {}),
        markerEnd: { type: MarkerType.ArrowClosed },
      })),
    [model],
  );
  return (
    <div className="dag" data-testid="dag" data-simplified={model.simplified ? 'true' : 'false'}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onlyRenderVisibleElements
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        fitView
        minZoom={model.simplified ? 0.005 : 0.1}
        proOptions={{ hideAttribution: true }}
        onNodeClick={(_e, n) => onSelect(n.id)}
        onNodesChange={(changes) => {
          // Keyboard selection (Enter on a focused node) arrives as a select change.
          for (const c of changes) if (c.type === 'select' && c.selected) onSelect(c.id);
        }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
});

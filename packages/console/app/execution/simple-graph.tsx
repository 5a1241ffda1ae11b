import { memo, type PointerEvent, useEffect, useMemo, useRef, useState } from 'react';
import type { GraphModel } from '../lib/graph.js';
import { statusVar } from '../lib/status.js';
import type { NodeState } from './dag.js';

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * The simplified rendering of a large graph: one SVG, every step a coloured box (its id and
 * status in the tooltip), every edge a straight segment of one path, panned by dragging and
 * zoomed with the wheel or the buttons. A few thousand SVG elements instead of as many
 * interactive components: it draws a 1,000-step graph at once and pans smoothly.
 */
export const SimpleGraph = memo(function SimpleGraph(props: {
  model: GraphModel;
  states: Record<string, NodeState>;
  selected: string | undefined;
  onSelect: (stepId: string) => void;
}) {
  const { model, states, selected, onSelect } = props;
  const whole: Box = useMemo(
    () => ({ x: 0, y: 0, w: Math.max(1, model.width), h: Math.max(1, model.height) }),
    [model],
  );
  const [view, setView] = useState<Box>(whole);
  useEffect(() => setView(whole), [whole]);
  const svg = useRef<SVGSVGElement>(null);
  const drag = useRef<{ x: number; y: number; view: Box } | undefined>(undefined);

  const zoom = (factor: number, cx = view.x + view.w / 2, cy = view.y + view.h / 2) =>
    setView((v) => {
      const w = Math.min(whole.w * 4, Math.max(20, v.w * factor));
      const h = (v.h / v.w) * w;
      return { x: cx - ((cx - v.x) * w) / v.w, y: cy - ((cy - v.y) * h) / v.h, w, h };
    });
  // A wheel listener that may prevent the page from scrolling (React's is passive).
  useEffect(() => {
    const el = svg.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      setView((v) => {
        const cx = v.x + ((e.clientX - r.left) / r.width) * v.w;
        const cy = v.y + ((e.clientY - r.top) / r.height) * v.h;
        const f = e.deltaY > 0 ? 1.15 : 1 / 1.15;
        const w = Math.min(whole.w * 4, Math.max(20, v.w * f));
        const h = (v.h / v.w) * w;
        return { x: cx - ((cx - v.x) * w) / v.w, y: cy - ((cy - v.y) * h) / v.h, w, h };
      });
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [whole]);

  const onPointerDown = (e: PointerEvent<SVGSVGElement>) => {
    if ((e.target as Element).hasAttribute('data-step')) return;
    drag.current = { x: e.clientX, y: e.clientY, view };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const onPointerMove = (e: PointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d || !svg.current) return;
    const r = svg.current.getBoundingClientRect();
    const scale = Math.max(d.view.w / r.width, d.view.h / r.height);
    setView({ ...d.view, x: d.view.x - (e.clientX - d.x) * scale, y: d.view.y - (e.clientY - d.y) * scale });
  };
  const onPointerUp = () => {
    drag.current = undefined;
  };

  const byId = useMemo(() => new Map(model.nodes.map((n) => [n.id, n])), [model]);
  const paths = useMemo(() => {
    let deps = '';
    let fallbacks = '';
    for (const e of model.edges) {
      const s = byId.get(e.source);
      const t = byId.get(e.target);
      if (!s || !t) continue;
      const seg = `M${s.x + s.width / 2},${s.y + s.height}L${t.x + t.width / 2},${t.y}`;
      if (e.kind === 'fallback') fallbacks += seg;
      else deps += seg;
    }
    return { deps, fallbacks };
  }, [model, byId]);

  return (
    <div className="dag simple-graph" data-testid="dag" data-simplified="true">
      <div className="graph-controls row">
        <button type="button" aria-label="Zoom in" onClick={() => zoom(1 / 1.5)}>
          +
        </button>
        <button type="button" aria-label="Zoom out" onClick={() => zoom(1.5)}>
          −
        </button>
        <button type="button" onClick={() => setView(whole)}>
          Fit
        </button>
        <span className="muted">{model.nodes.length} steps, simplified</span>
      </div>
      <svg
        ref={svg}
        role="img"
        aria-label={`graph of ${model.nodes.length} steps`}
        viewBox={`${view.x} ${view.y} ${view.w} ${view.h}`}
        preserveAspectRatio="xMidYMid meet"
        width="100%"
        height="100%"
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
      >
        <path d={paths.deps} stroke="var(--border)" fill="none" vectorEffect="non-scaling-stroke" />
        <path
          d={paths.fallbacks}
          stroke="var(--fg-soft)"
          strokeDasharray="4 3"
          fill="none"
          vectorEffect="non-scaling-stroke"
        />
        {model.nodes.map((n) => {
          const status = states[n.id]?.status ?? 'pending';
          return (
            // biome-ignore lint/a11y/noStaticElementInteractions: keyboard users choose steps from the Step list
            <rect
              key={n.id}
              data-step={n.id}
              data-status={status}
              x={n.x}
              y={n.y}
              width={n.width}
              height={n.height}
              rx={3}
              fill={statusVar(status)}
              stroke={n.id === selected ? 'var(--focus)' : 'var(--border)'}
              strokeWidth={n.id === selected ? 3 : 1}
              vectorEffect="non-scaling-stroke"
              onClick={() => onSelect(n.id)}
            >
              <title>{`${n.id}: ${status}`}</title>
            </rect>
          );
        })}
      </svg>
    </div>
  );
});

/** The fork tree as an SVG picture: d3-hierarchy's tidy layout, pan (drag,
 * arrow buttons), zoom (wheel, buttons, +/-), and keyboard navigation with
 * one tab stop (arrows move between scenarios, Enter opens one). Only
 * simple shapes are drawn (one path for all links, a circle and a short
 * label per node) so 1,000-node trees stay responsive. */

import { memo, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { COLUMN_WIDTH, ROW_HEIGHT, layoutForkTree, neighbour, type LaidOutNode, type TreeLayout } from '../lib/treeLayout';
import type { ForkTreeNode } from '../lib/types';

interface View {
  x: number;
  y: number;
  k: number;
}

const MIN_SCALE = 0.1;
const MAX_SCALE = 3;
const DRAG_THRESHOLD = 4;

function clampScale(k: number): number {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, k));
}

function fitView(layout: TreeLayout, width: number, height: number, focus: LaidOutNode | undefined): View {
  const { minX, maxX, minY, maxY } = layout.bounds;
  const treeWidth = maxX - minX + COLUMN_WIDTH;
  const treeHeight = maxY - minY + ROW_HEIGHT * 2;
  const k = clampScale(Math.min(1, width / treeWidth, height / treeHeight));
  if (k * treeWidth <= width && k * treeHeight <= height) {
    // Everything fits: centre it.
    return {
      k,
      x: (width - k * (maxX - minX + COLUMN_WIDTH)) / 2 - k * minX + 12,
      y: (height - k * (maxY - minY)) / 2 - k * minY,
    };
  }
  // Too big to read whole: readable scale, centred on the focused node.
  const readable = Math.max(k, 0.6);
  const target = focus ?? layout.nodes[0];
  return { k: readable, x: width / 3 - readable * target.x, y: height / 2 - readable * target.y };
}

export function ForkTree({
  root,
  currentId,
  onOpen,
  height = 420,
}: {
  root: ForkTreeNode;
  currentId?: string;
  onOpen: (id: string) => void;
  height?: number;
}) {
  const layout = useMemo(() => layoutForkTree(root), [root]);
  const svgRef = useRef<SVGSVGElement>(null);
  const [size, setSize] = useState({ width: 800, height });
  const [view, setView] = useState<View>({ x: 40, y: height / 2, k: 1 });
  const [focusId, setFocusId] = useState<string>(() => (currentId && layout.byId.has(currentId) ? currentId : root.id));
  const drag = useRef<{ x: number; y: number; startX: number; startY: number; moved: boolean; id: number } | null>(null);
  const suppressClick = useRef(false);

  // Measure the viewport (and follow resizes where the browser can).
  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const measure = () => setSize({ width: svg.clientWidth || 800, height: svg.clientHeight || height });
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(measure);
    observer.observe(svg);
    return () => observer.disconnect();
  }, [height]);

  const fit = useCallback(() => {
    setView(fitView(layout, size.width, size.height, layout.byId.get(currentId ?? '') ?? layout.nodes[0]));
  }, [layout, size.width, size.height, currentId]);

  useEffect(() => {
    fit();
  }, [fit]);

  useEffect(() => {
    if (!layout.byId.has(focusId)) setFocusId(root.id);
  }, [layout, focusId, root.id]);

  const zoomBy = useCallback(
    (factor: number, cx?: number, cy?: number) => {
      setView((v) => {
        const k = clampScale(v.k * factor);
        const px = cx ?? size.width / 2;
        const py = cy ?? size.height / 2;
        return { k, x: px - (px - v.x) * (k / v.k), y: py - (py - v.y) * (k / v.k) };
      });
    },
    [size.width, size.height],
  );

  const panBy = useCallback((dx: number, dy: number) => setView((v) => ({ ...v, x: v.x + dx, y: v.y + dy })), []);

  // Wheel zoom needs a non-passive listener to keep the page from scrolling.
  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = svg.getBoundingClientRect();
      zoomBy(Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
    };
    svg.addEventListener('wheel', onWheel, { passive: false });
    return () => svg.removeEventListener('wheel', onWheel);
  }, [zoomBy]);

  const onPointerDown = (event: PointerEvent<SVGSVGElement>) => {
    if (event.button !== 0) return;
    drag.current = { x: view.x, y: view.y, startX: event.clientX, startY: event.clientY, moved: false, id: event.pointerId };
  };
  const onPointerMove = (event: PointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d || d.id !== event.pointerId) return;
    const dx = event.clientX - d.startX;
    const dy = event.clientY - d.startY;
    if (!d.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
    if (!d.moved) {
      d.moved = true;
      svgRef.current?.setPointerCapture?.(event.pointerId);
    }
    setView((v) => ({ ...v, x: d.x + dx, y: d.y + dy }));
  };
  const onPointerUp = (event: PointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d || d.id !== event.pointerId) return;
    suppressClick.current = d.moved;
    drag.current = null;
    if (svgRef.current?.hasPointerCapture?.(event.pointerId)) svgRef.current.releasePointerCapture(event.pointerId);
  };

  /** Focus a node, panning it into view if it is outside. */
  const focusNode = useCallback(
    (id: string) => {
      const node = layout.byId.get(id);
      if (!node) return;
      setFocusId(id);
      setView((v) => {
        const sx = v.x + v.k * node.x;
        const sy = v.y + v.k * node.y;
        const margin = 40;
        if (sx > margin && sx < size.width - 160 && sy > margin && sy < size.height - margin) return v;
        return { ...v, x: size.width / 3 - v.k * node.x, y: size.height / 2 - v.k * node.y };
      });
      requestAnimationFrame(() => {
        const nodes = svgRef.current?.querySelectorAll<SVGGElement>('[data-testid="tree-node"]') ?? [];
        for (const el of nodes) if (el.getAttribute('data-id') === id) el.focus();
      });
    },
    [layout, size.width, size.height],
  );

  const open = useCallback(
    (id: string) => {
      const node = layout.byId.get(id);
      if (node && !node.deleted) onOpen(id);
    },
    [layout, onOpen],
  );

  const onNodeKeyDown = useCallback(
    (event: KeyboardEvent<SVGGElement>, id: string) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        open(id);
        return;
      }
      const next = neighbour(layout, id, event.key);
      if (next) {
        event.preventDefault();
        focusNode(next);
      }
    },
    [layout, open, focusNode],
  );

  const onNodeClick = useCallback(
    (id: string) => {
      if (suppressClick.current) {
        suppressClick.current = false;
        return;
      }
      setFocusId(id);
      open(id);
    },
    [open],
  );

  const onSvgKeyDown = (event: KeyboardEvent<SVGSVGElement>) => {
    if (event.key === '+' || event.key === '=') zoomBy(1.25);
    else if (event.key === '-' || event.key === '_') zoomBy(0.8);
    else if (event.key === '0') fit();
  };

  const count = layout.nodes.length;
  return (
    <div className="fork-tree">
      <div className="tree-toolbar" role="toolbar" aria-label="Fork tree view">
        <button type="button" className="secondary small" onClick={() => zoomBy(1.25)} aria-label="Zoom in">
          +
        </button>
        <button type="button" className="secondary small" onClick={() => zoomBy(0.8)} aria-label="Zoom out">
          −
        </button>
        <button type="button" className="secondary small" onClick={fit}>
          Fit
        </button>
        <button type="button" className="secondary small" onClick={() => panBy(80, 0)} aria-label="Pan left">
          ←
        </button>
        <button type="button" className="secondary small" onClick={() => panBy(-80, 0)} aria-label="Pan right">
          →
        </button>
        <button type="button" className="secondary small" onClick={() => panBy(0, 80)} aria-label="Pan up">
          ↑
        </button>
        <button type="button" className="secondary small" onClick={() => panBy(0, -80)} aria-label="Pan down">
          ↓
        </button>
        <span className="help">
          {count.toLocaleString()} {count === 1 ? 'scenario' : 'scenarios'} · drag to pan, wheel to zoom, arrow keys to move, Enter to open
        </span>
      </div>
      <svg
        ref={svgRef}
        className="tree-canvas"
        data-testid="fork-tree"
        role="group"
        aria-label={`Fork tree of ${count} scenarios`}
        style={{ height }}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerUp}
        onKeyDown={onSvgKeyDown}
      >
        <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
          <path className="tree-links" d={layout.linkPath} />
          <Nodes layout={layout} focusId={focusId} currentId={currentId} onKeyDown={onNodeKeyDown} onClick={onNodeClick} />
        </g>
      </svg>
    </div>
  );
}

const Nodes = memo(function Nodes({
  layout,
  focusId,
  currentId,
  onKeyDown,
  onClick,
}: {
  layout: TreeLayout;
  focusId: string;
  currentId?: string;
  onKeyDown: (event: KeyboardEvent<SVGGElement>, id: string) => void;
  onClick: (id: string) => void;
}) {
  return (
    <>
      {layout.nodes.map((node) => (
        <g
          key={node.id}
          className={`tree-node${node.deleted ? ' deleted' : ''}${node.id === currentId ? ' current' : ''}`}
          data-testid="tree-node"
          data-id={node.id}
          transform={`translate(${node.x},${node.y})`}
          tabIndex={node.id === focusId ? 0 : -1}
          role="link"
          aria-label={`${node.title}, level ${node.depth + 1}${node.id === currentId ? ', current scenario' : ''}`}
          aria-disabled={node.deleted || undefined}
          aria-current={node.id === currentId ? 'page' : undefined}
          onKeyDown={(e) => onKeyDown(e, node.id)}
          onClick={() => onClick(node.id)}
        >
          <title>{node.title}</title>
          <circle r={node.id === currentId ? 8 : 6} />
          <text x={12} dy="0.32em">
            {node.label}
          </text>
        </g>
      ))}
    </>
  );
});

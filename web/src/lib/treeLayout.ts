/** The fork tree as a picture: d3-hierarchy's tidy tree (Reingold-Tilford,
 * Buchheim's linear-time variant), drawn left to right. Fixed node sizes
 * keep any two nodes apart, so a 1,000-node tree stays legible when zoomed. */

import { hierarchy, tree, type HierarchyPointNode } from 'd3-hierarchy';
import { summarize, truncate } from './scenarioSchema';
import type { ForkTreeNode } from './types';

export const ROW_HEIGHT = 32;
export const COLUMN_WIDTH = 250;
export const LABEL_CHARS = 24;

export interface LaidOutNode {
  id: string;
  /** Screen position: x grows with depth, y across siblings. */
  x: number;
  y: number;
  depth: number;
  label: string;
  title: string;
  deleted: boolean;
  parentId: string | null;
  childIds: string[];
}

export interface TreeLayout {
  nodes: LaidOutNode[];
  byId: Map<string, LaidOutNode>;
  /** All links as one SVG path (one element, not one per link). */
  linkPath: string;
  bounds: { minX: number; maxX: number; minY: number; maxY: number };
  /** Node ids per depth, top to bottom (keyboard Up/Down). */
  rows: string[][];
}

export function nodeTitle(node: ForkTreeNode): string {
  if (node.is_deleted) return 'Deleted scenario';
  return summarize(node.scenario_type, node.parameters);
}

export function layoutForkTree(root: ForkTreeNode): TreeLayout {
  const seen = new Set<string>();
  // A node seen twice (never expected) is drawn once: guards against cycles.
  const h = hierarchy<ForkTreeNode>(root, (d) =>
    (d.children ?? []).filter((c) => {
      if (seen.has(c.id)) return false;
      seen.add(c.id);
      return true;
    }),
  );
  seen.add(root.id);
  const laid: HierarchyPointNode<ForkTreeNode> = tree<ForkTreeNode>()
    .nodeSize([ROW_HEIGHT, COLUMN_WIDTH])
    .separation((a, b) => (a.parent === b.parent ? 1 : 1.25))(h);

  const nodes: LaidOutNode[] = [];
  const byId = new Map<string, LaidOutNode>();
  const rows: string[][] = [];
  const parts: string[] = [];
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;

  laid.each((n) => {
    const title = nodeTitle(n.data);
    const node: LaidOutNode = {
      id: n.data.id,
      x: n.y,
      y: n.x,
      depth: n.depth,
      label: truncate(title, LABEL_CHARS),
      title,
      deleted: !!n.data.is_deleted,
      parentId: n.parent ? n.parent.data.id : null,
      childIds: (n.children ?? []).map((c) => c.data.id),
    };
    nodes.push(node);
    byId.set(node.id, node);
    (rows[n.depth] ??= []).push(node.id);
    minX = Math.min(minX, node.x);
    maxX = Math.max(maxX, node.x);
    minY = Math.min(minY, node.y);
    maxY = Math.max(maxY, node.y);
    if (n.parent) {
      const px = n.parent.y;
      const py = n.parent.x;
      const mx = (px + node.x) / 2;
      parts.push(`M${px},${py}C${mx},${py} ${mx},${node.y} ${node.x},${node.y}`);
    }
  });

  for (const row of rows) row.sort((a, b) => byId.get(a)!.y - byId.get(b)!.y);
  return { nodes, byId, linkPath: parts.join(''), bounds: { minX, maxX, minY, maxY }, rows };
}

/** The node a key moves focus to (null: stay). */
export function neighbour(layout: TreeLayout, id: string, key: string): string | null {
  const node = layout.byId.get(id);
  if (!node) return null;
  switch (key) {
    case 'ArrowLeft':
      return node.parentId;
    case 'ArrowRight':
      return node.childIds[0] ?? null;
    case 'ArrowUp':
    case 'ArrowDown': {
      const row = layout.rows[node.depth];
      const index = row.indexOf(id) + (key === 'ArrowUp' ? -1 : 1);
      return row[index] ?? null;
    }
    case 'Home':
      return layout.nodes[0]?.id ?? null;
    default:
      return null;
  }
}

/** A test/benchmark tree: `count` nodes, each attached to a random earlier one. */
export function generateTree(count: number, seed = 42): ForkTreeNode {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const all: ForkTreeNode[] = [];
  for (let i = 0; i < count; i += 1) {
    const node: ForkTreeNode = {
      id: `node-${i}`,
      is_deleted: i % 97 === 5,
      scenario_type: 'CHARACTER_CHANGE',
      parameters: { character: `Character ${i}`, property: 'personality', new_value: `variant ${i}` },
      children: [],
    };
    if (i > 0) {
      // Favour recent nodes a little so the tree is deep as well as wide.
      const parent = all[Math.floor(Math.max(random(), random()) * i)];
      parent.children.push(node);
    }
    all.push(node);
  }
  return all[0];
}

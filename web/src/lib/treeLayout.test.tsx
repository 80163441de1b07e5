import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ForkTree } from '../components/ForkTree';
import { LABEL_CHARS, generateTree, layoutForkTree, neighbour } from './treeLayout';
import type { ForkTreeNode } from './types';

function count(node: ForkTreeNode): number {
  return 1 + node.children.reduce((n, c) => n + count(c), 0);
}

describe('layoutForkTree', () => {
  it('gives each of 1,000 nodes its own finite coordinates', () => {
    const root = generateTree(1000);
    expect(count(root)).toBe(1000);
    const started = performance.now();
    const layout = layoutForkTree(root);
    const elapsed = performance.now() - started;
    expect(layout.nodes).toHaveLength(1000);
    expect(layout.byId.size).toBe(1000);
    for (const node of layout.nodes) {
      expect(Number.isFinite(node.x)).toBe(true);
      expect(Number.isFinite(node.y)).toBe(true);
    }
    const positions = new Set(layout.nodes.map((n) => `${n.x},${n.y}`));
    expect(positions.size).toBe(1000);
    // Depth runs left to right; nodes in one column are at least a row apart.
    for (const row of layout.rows) {
      const ys = row.map((id) => layout.byId.get(id)!.y);
      for (let i = 1; i < ys.length; i += 1) expect(ys[i] - ys[i - 1]).toBeGreaterThanOrEqual(31.9);
      expect(new Set(row.map((id) => layout.byId.get(id)!.x)).size).toBe(1);
    }
    // One path for all 999 links.
    expect(layout.linkPath.match(/M/g)).toHaveLength(999);
    expect(elapsed).toBeLessThan(1000);
  });

  it('truncates long labels and keeps the full title', () => {
    const root: ForkTreeNode = {
      id: 'r',
      is_deleted: false,
      scenario_type: 'EVENT_ALTERATION',
      parameters: { event: 'The Netherfield ball where Darcy first refuses to dance with Elizabeth', alteration_type: 'prevent', new_outcome: 'x' },
      children: [{ id: 'd', is_deleted: true, children: [] }],
    };
    const layout = layoutForkTree(root);
    const node = layout.byId.get('r')!;
    expect(node.label.length).toBeLessThanOrEqual(LABEL_CHARS);
    expect(node.label.endsWith('…')).toBe(true);
    expect(node.title).toContain('Netherfield ball');
    expect(layout.byId.get('d')).toMatchObject({ deleted: true, title: 'Deleted scenario' });
  });

  it('moves between nodes with the arrow keys', () => {
    const layout = layoutForkTree(generateTree(30));
    const root = layout.nodes[0];
    const child = neighbour(layout, root.id, 'ArrowRight')!;
    expect(root.childIds).toContain(child);
    expect(neighbour(layout, child, 'ArrowLeft')).toBe(root.id);
    expect(neighbour(layout, root.id, 'ArrowLeft')).toBeNull();
    const row = layout.rows[1];
    if (row.length > 1) expect(neighbour(layout, row[0], 'ArrowDown')).toBe(row[1]);
    expect(neighbour(layout, child, 'Home')).toBe(root.id);
  });
});

describe('<ForkTree>', () => {
  it('draws 1,000 focusable nodes as simple shapes and opens one on click or Enter', () => {
    const onOpen = vi.fn();
    const root = generateTree(1000);
    render(<ForkTree root={root} currentId="node-0" onOpen={onOpen} />);
    const svg = screen.getByTestId('fork-tree');
    const nodes = screen.getAllByTestId('tree-node');
    expect(nodes).toHaveLength(1000);
    expect(svg.querySelectorAll('path')).toHaveLength(1);
    expect(new Set(nodes.map((n) => n.getAttribute('data-id'))).size).toBe(1000);
    // One tab stop: the current scenario.
    expect(nodes.filter((n) => n.getAttribute('tabindex') === '0').map((n) => n.getAttribute('data-id'))).toEqual(['node-0']);

    const target = nodes.find((n) => n.getAttribute('data-id') === 'node-1')!;
    fireEvent.click(target);
    expect(onOpen).toHaveBeenCalledWith('node-1');
    fireEvent.keyDown(target, { key: 'Enter' });
    expect(onOpen).toHaveBeenCalledTimes(2);

    // A deleted scenario cannot be opened.
    const deleted = nodes.find((n) => n.getAttribute('data-id') === 'node-5')!;
    expect(deleted).toHaveAttribute('aria-disabled', 'true');
    fireEvent.click(deleted);
    expect(onOpen).toHaveBeenCalledTimes(2);
  });

  it('moves the tab stop with the arrow keys and zooms with the buttons', () => {
    const root = generateTree(20);
    render(<ForkTree root={root} onOpen={() => undefined} />);
    const rootNode = screen.getAllByTestId('tree-node').find((n) => n.getAttribute('data-id') === 'node-0')!;
    fireEvent.keyDown(rootNode, { key: 'ArrowRight' });
    const focused = screen.getAllByTestId('tree-node').filter((n) => n.getAttribute('tabindex') === '0');
    expect(focused).toHaveLength(1);
    expect(focused[0].getAttribute('data-id')).toBe(root.children[0].id);

    const group = screen.getByTestId('fork-tree').querySelector('g')!;
    const before = group.getAttribute('transform');
    fireEvent.click(screen.getByRole('button', { name: 'Zoom in' }));
    expect(group.getAttribute('transform')).not.toBe(before);
  });
});

// Lays out a lineage (original → derived files) in columns by generation:
// a file sits one column right of its deepest parent.
import type { Lineage } from "./endpoints";

export const BOX = { width: 190, height: 44, gapX: 60, gapY: 24, margin: 12 };

export type Placed = { file_id: string; file_name: string; x: number; y: number };
export type Link = { from: Placed; to: Placed };

export function layout(lineage: Lineage): { nodes: Placed[]; links: Link[]; width: number; height: number } {
  // Each cut is stored both ways (original CUT_TO derived, derived CUT_FROM original).
  const pairs = new Map<string, [string, string]>();
  for (const e of lineage.edges) {
    const [parent, child] = e.type === "CUT_TO" ? [e.source, e.target] : [e.target, e.source];
    pairs.set(`${parent}\n${child}`, [parent, child]);
  }
  const depth = new Map(lineage.nodes.map((n) => [n.file_id, 0]));
  // Longest path from a root; at most one pass per node, so a cycle cannot hang it.
  for (let pass = 0; pass < lineage.nodes.length; pass++) {
    let changed = false;
    for (const [parent, child] of pairs.values()) {
      const d = (depth.get(parent) ?? 0) + 1;
      if (d > (depth.get(child) ?? 0)) {
        depth.set(child, d);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rows = new Map<number, number>();
  const placed = new Map<string, Placed>();
  for (const n of lineage.nodes) {
    const column = depth.get(n.file_id) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    placed.set(n.file_id, {
      ...n,
      x: BOX.margin + column * (BOX.width + BOX.gapX),
      y: BOX.margin + row * (BOX.height + BOX.gapY),
    });
  }
  const links: Link[] = [];
  for (const [parent, child] of pairs.values()) {
    const from = placed.get(parent);
    const to = placed.get(child);
    if (from && to) links.push({ from, to });
  }
  const columns = Math.max(1, ...[...depth.values()].map((d) => d + 1));
  const tallest = Math.max(1, ...rows.values());
  return {
    nodes: [...placed.values()],
    links,
    width: 2 * BOX.margin + columns * BOX.width + (columns - 1) * BOX.gapX,
    height: 2 * BOX.margin + tallest * BOX.height + (tallest - 1) * BOX.gapY,
  };
}

import type { PrefixNode } from '../../../shared/plan.js';

/** Children kept per node; the rest are summed under `…` so a keyspace of ids cannot blow memory up. */
const MAX_CHILDREN = 200;
const OTHERS = '…';

interface Counter {
  keys: number;
  bytes: number;
  children: Map<string, Counter> | null;
}

/**
 * Counts keys and bytes by key prefix: keys split on `:`, up to `depth` levels, the last segment
 * (the key's own name) never counted as a prefix. `user:1:profile` counts towards `user` and
 * `user:1`; `session:abc` towards `session`.
 */
export class PrefixTree {
  private readonly root: Counter = { keys: 0, bytes: 0, children: new Map() };

  constructor(private readonly depth = 3) {}

  add(key: string, bytes: number): void {
    const parts = key.split(':');
    const levels = Math.min(this.depth, parts.length - 1);
    let node = this.root;
    let prefix = '';
    for (let i = 0; i < levels; i++) {
      prefix = i === 0 ? parts[0] : `${prefix}:${parts[i]}`;
      node.children ??= new Map();
      let child = node.children.get(prefix);
      if (!child) {
        const name = node.children.size < MAX_CHILDREN ? prefix : `${prefix.slice(0, prefix.length - parts[i].length)}${OTHERS}`;
        child = node.children.get(name);
        if (!child) node.children.set(name, (child = { keys: 0, bytes: 0, children: null }));
        if (name !== prefix) {
          // Everything below an overflow bucket is summed there.
          child.keys++;
          child.bytes += bytes;
          return;
        }
      }
      child.keys++;
      child.bytes += bytes;
      node = child;
    }
  }

  /** Merges another tree into this one (several dbs or shards of one source). */
  merge(other: PrefixTree): void {
    const walk = (into: Counter, from: Counter) => {
      if (!from.children) return;
      into.children ??= new Map();
      for (const [name, child] of from.children) {
        let target = into.children.get(name);
        if (!target) into.children.set(name, (target = { keys: 0, bytes: 0, children: null }));
        target.keys += child.keys;
        target.bytes += child.bytes;
        walk(target, child);
      }
    };
    walk(this.root, other.root);
  }

  /** The tree for the plan document: children sorted by bytes, at most `limit` per level. */
  toNodes(limit = 20): PrefixNode[] {
    const build = (node: Counter): PrefixNode[] =>
      [...(node.children ?? new Map<string, Counter>()).entries()]
        .sort((a, b) => b[1].bytes - a[1].bytes || b[1].keys - a[1].keys)
        .slice(0, limit)
        .map(([prefix, c]) => ({ prefix, keys: c.keys, bytes: c.bytes, children: build(c) }));
    return build(this.root);
  }

  /** Every prefix at every depth, the heaviest first by `by`. */
  heaviest(by: 'bytes' | 'keys', limit = 10): Array<{ prefix: string; keys: number; bytes: number }> {
    const all: Array<{ prefix: string; keys: number; bytes: number }> = [];
    const walk = (node: Counter) => {
      for (const [prefix, c] of node.children ?? []) {
        all.push({ prefix, keys: c.keys, bytes: c.bytes });
        walk(c);
      }
    };
    walk(this.root);
    return all.sort((a, b) => b[by] - a[by]).slice(0, limit);
  }
}

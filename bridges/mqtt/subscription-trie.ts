/**
 * A trie of topic filters: insert/remove (filter, id) → value, and match a
 * topic name to every value whose filter matches it, with `+`, `#` and the
 * `$`-topic rule [MQTT-4.7.2-1]. Used per session and per shared group.
 * Match results are cached per topic name until the trie changes (delivery
 * matches the same few topics over and over).
 */
interface Node<V> {
  children: Map<string, Node<V>>;
  values: Map<string, V>;
}

const newNode = <V>(): Node<V> => ({ children: new Map(), values: new Map() });

export class SubscriptionTrie<V> {
  private readonly root: Node<V> = newNode();
  private count = 0;
  private readonly cache = new Map<string, readonly V[]>();
  private static readonly CACHE_LIMIT = 4096;

  get size(): number {
    return this.count;
  }

  /** Add or replace the value stored for (filter, id). */
  set(filter: string, id: string, value: V): void {
    this.cache.clear();
    let node = this.root;
    for (const level of filter.split("/")) {
      let next = node.children.get(level);
      if (!next) {
        next = newNode();
        node.children.set(level, next);
      }
      node = next;
    }
    if (!node.values.has(id)) this.count++;
    node.values.set(id, value);
  }

  /** Remove (filter, id); true if it was there. Empty branches are pruned. */
  delete(filter: string, id: string): boolean {
    this.cache.clear();
    const path: Array<[Node<V>, string]> = [];
    let node = this.root;
    for (const level of filter.split("/")) {
      const next = node.children.get(level);
      if (!next) return false;
      path.push([node, level]);
      node = next;
    }
    if (!node.values.delete(id)) return false;
    this.count--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i]!;
      const child = parent.children.get(level)!;
      if (child.values.size > 0 || child.children.size > 0) break;
      parent.children.delete(level);
    }
    return true;
  }

  /** Every value whose filter matches `topic` (a shared, cached array: do not modify it). */
  match(topic: string): readonly V[] {
    const cached = this.cache.get(topic);
    if (cached !== undefined) return cached;
    const out: V[] = [];
    const levels = topic.split("/");
    const dollar = topic.startsWith("$");
    this.walk(this.root, levels, 0, dollar, out);
    if (this.cache.size >= SubscriptionTrie.CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, out);
    return out;
  }

  private walk(node: Node<V>, levels: string[], i: number, dollar: boolean, out: V[]): void {
    const wildcardsAllowed = !(dollar && i === 0);
    if (wildcardsAllowed) {
      const hash = node.children.get("#");
      if (hash) for (const v of hash.values.values()) out.push(v);
    }
    if (i === levels.length) {
      for (const v of node.values.values()) out.push(v);
      return;
    }
    const exact = node.children.get(levels[i]!);
    if (exact) this.walk(exact, levels, i + 1, dollar, out);
    if (wildcardsAllowed) {
      const plus = node.children.get("+");
      if (plus) this.walk(plus, levels, i + 1, dollar, out);
    }
  }
}

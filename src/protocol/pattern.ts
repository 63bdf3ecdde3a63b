/**
 * URI patterns: the three WAMP match policies (`exact`, `prefix`, `wildcard`),
 * indexed so that neither finding the most specific pattern for a URI nor finding
 * every pattern that matches it ever scans the patterns:
 *
 * - exact patterns: one map lookup;
 * - prefixes: a radix tree (a character tree whose single-child chains are one
 *   edge), walked along the URI without copying it, so a URI costs at most one
 *   step per pattern that is a prefix of it, plus one;
 * - wildcards: a tree of components, walked along the URI's components, taking
 *   the literal branch and the "any" branch at each level.
 *
 * Unrelated patterns therefore cost a publish nothing: the walks stop at the
 * first character or component no pattern shares.
 *
 * Precedence (the order of pattern-based registrations in the WAMP spec, and of
 * permissions in Tuerca's authorizer): an exact pattern first; then the longest
 * matching prefix; then a wildcard pattern, preferring, at the first component
 * where two candidates differ, the one with a literal component over the one with
 * an empty (any) component.
 *
 * - `prefix`: a plain string prefix, so `a.b` matches `a.bc` and `a.b.c`; the empty
 *   prefix matches every URI.
 * - `wildcard`: components joined by `.`; an empty component matches exactly one
 *   component of any value, so `a..c` matches `a.b.c` but not `a.c` or `a.b.b.c`.
 *
 * @module
 */

/** How many URIs {@link PatternIndex.bestRemembered} remembers before it starts over. */
export const MEMO_ENTRIES = 4096;

/** A WAMP match policy. */
export type MatchPolicy = "exact" | "prefix" | "wildcard";

/** The match policies, for validation. */
export const MATCH_POLICIES: readonly MatchPolicy[] = ["exact", "prefix", "wildcard"];

/** Whether `value` names a match policy. */
export function isMatchPolicy(value: unknown): value is MatchPolicy {
  return value === "exact" || value === "prefix" || value === "wildcard";
}

/** One level of the wildcard tree: what follows a component. */
class WildcardNode<T> {
  /** Patterns continuing with a literal component. */
  literal: Map<string, WildcardNode<T>> | null = null;
  /** Patterns continuing with an empty (any) component. */
  any: WildcardNode<T> | null = null;
  /** The value of the pattern that ends here. */
  value: T | undefined = undefined;

  get empty(): boolean {
    return this.value === undefined && this.any === null &&
      (this.literal === null || this.literal.size === 0);
  }
}

/** A node of the prefix radix tree: the value of the prefix spelled so far, and the edges on. */
class PrefixNode<T> {
  value: T | undefined = undefined;
  /** Edges by their label's first character. */
  edges: Map<number, PrefixEdge<T>> | null = null;
}

interface PrefixEdge<T> {
  label: string;
  node: PrefixNode<T>;
}

/**
 * Patterns of the three policies, each mapped to a value.
 *
 * @example
 * ```ts
 * const index = new PatternIndex<string>();
 * index.set("", "prefix", "anything");
 * index.set("push.", "prefix", "push");
 * index.set("push.tutorial.messages", "exact", "messages");
 * index.best("push.tutorial.messages"); // "messages"
 * index.best("push.other"); // "push"
 * const all: string[] = [];
 * index.collect("push.other", all); // all = ["push", "anything"]
 * ```
 */
export class PatternIndex<T> {
  #exact = new Map<string, T>();
  #prefix = new PrefixNode<T>();
  #wildcard = new WildcardNode<T>();
  #patterns = 0;
  /** {@link bestRemembered}'s answers; any change to the patterns forgets them. */
  #memo: Map<string, T | null> | null = null;

  /** How many patterns of every policy the index holds. */
  get size(): number {
    return this.#patterns;
  }

  /** How many prefix and wildcard patterns the index holds. */
  get patternCount(): number {
    return this.#patterns - this.#exact.size;
  }

  /** Maps `pattern` under `match` to `value`, replacing what it held. */
  set(pattern: string, match: MatchPolicy, value: T): void {
    this.#memo?.clear();
    if (this.get(pattern, match) === undefined) this.#patterns++;
    if (match === "exact") {
      this.#exact.set(pattern, value);
    } else if (match === "prefix") {
      setPrefix(this.#prefix, pattern, value);
    } else {
      let node = this.#wildcard;
      for (const part of pattern.split(".")) {
        if (part === "") node = node.any ??= new WildcardNode();
        else {
          node.literal ??= new Map();
          let next = node.literal.get(part);
          if (next === undefined) node.literal.set(part, next = new WildcardNode());
          node = next;
        }
      }
      node.value = value;
    }
  }

  /** The value of exactly this pattern under this policy. */
  get(pattern: string, match: MatchPolicy): T | undefined {
    if (match === "exact") return this.#exact.get(pattern);
    if (match === "prefix") return prefixNode(this.#prefix, pattern)?.value;
    let node: WildcardNode<T> | null | undefined = this.#wildcard;
    for (const part of pattern.split(".")) {
      node = part === "" ? node.any : node.literal?.get(part);
      if (node == null) return undefined;
    }
    return node.value;
  }

  /** Removes a pattern; false when the index did not hold it. */
  delete(pattern: string, match: MatchPolicy): boolean {
    this.#memo?.clear();
    if (match === "exact") return this.#exact.delete(pattern) && this.#dropped();
    if (match === "prefix") return deletePrefix(this.#prefix, pattern, 0) && this.#dropped();
    return this.#deleteWildcard(this.#wildcard, pattern.split("."), 0) && this.#dropped();
  }

  /** The value of the most specific pattern matching `uri` (see the module doc), if any. */
  best(uri: string): T | undefined {
    const exact = this.#exact.get(uri);
    if (exact !== undefined) return exact;
    const prefix = longestPrefix(this.#prefix, uri);
    if (prefix !== undefined) return prefix;
    if (this.#wildcard.empty) return undefined;
    return bestWildcard(this.#wildcard, uri, 0);
  }

  /**
   * {@link best}, remembered per URI (up to {@link MEMO_ENTRIES} URIs, then it starts
   * over): for indexes read far more often than changed, such as a role's
   * permissions, where the same few URIs come back on every request.
   */
  bestRemembered(uri: string): T | null {
    this.#memo ??= new Map();
    let value = this.#memo.get(uri);
    if (value !== undefined) return value;
    value = this.best(uri) ?? null;
    if (this.#memo.size >= MEMO_ENTRIES) this.#memo.clear();
    this.#memo.set(uri, value);
    return value;
  }

  /**
   * Appends to `out` the values of every pattern matching `uri`: the exact one,
   * then prefixes shortest first, then wildcards most specific first.
   */
  collect(uri: string, out: T[]): void {
    const exact = this.#exact.get(uri);
    if (exact !== undefined) out.push(exact);
    this.collectPatterns(uri, out);
  }

  /** Like {@link collect}, without the exact pattern (for callers that looked it up already). */
  collectPatterns(uri: string, out: T[]): void {
    collectPrefixes(this.#prefix, uri, out);
    if (!this.#wildcard.empty) collectWildcard(this.#wildcard, uri, 0, out);
  }

  #dropped(): true {
    this.#patterns--;
    return true;
  }

  #deleteWildcard(node: WildcardNode<T>, parts: string[], at: number): boolean {
    if (at === parts.length) {
      if (node.value === undefined) return false;
      node.value = undefined;
      return true;
    }
    const part = parts[at];
    const next = part === "" ? node.any : node.literal?.get(part);
    if (next == null || !this.#deleteWildcard(next, parts, at + 1)) return false;
    if (next.empty) {
      if (part === "") node.any = null;
      else node.literal!.delete(part);
    }
    return true;
  }
}

/** Where the component starting at `start` ends (the next `.`, or the end of the URI). */
function componentEnd(uri: string, start: number): number {
  const dot = uri.indexOf(".", start);
  return dot === -1 ? uri.length : dot;
}

function bestWildcard<T>(node: WildcardNode<T>, uri: string, start: number): T | undefined {
  const end = componentEnd(uri, start);
  const last = end === uri.length;
  if (node.literal !== null) {
    const literal = node.literal.get(uri.slice(start, end));
    if (literal !== undefined) {
      const found = last ? literal.value : bestWildcard(literal, uri, end + 1);
      if (found !== undefined) return found;
    }
  }
  if (node.any === null) return undefined;
  return last ? node.any.value : bestWildcard(node.any, uri, end + 1);
}

function collectWildcard<T>(node: WildcardNode<T>, uri: string, start: number, out: T[]): void {
  const end = componentEnd(uri, start);
  const last = end === uri.length;
  if (node.literal !== null) {
    const literal = node.literal.get(uri.slice(start, end));
    if (literal !== undefined) {
      if (!last) collectWildcard(literal, uri, end + 1, out);
      else if (literal.value !== undefined) out.push(literal.value);
    }
  }
  if (node.any !== null) {
    if (!last) collectWildcard(node.any, uri, end + 1, out);
    else if (node.any.value !== undefined) out.push(node.any.value);
  }
}

function setPrefix<T>(root: PrefixNode<T>, pattern: string, value: T): void {
  let node = root;
  let at = 0;
  while (at < pattern.length) {
    node.edges ??= new Map();
    const edge = node.edges.get(pattern.charCodeAt(at));
    if (edge === undefined) {
      const leaf = new PrefixNode<T>();
      node.edges.set(pattern.charCodeAt(at), { label: pattern.slice(at), node: leaf });
      node = leaf;
      at = pattern.length;
      break;
    }
    let common = 0;
    const label = edge.label;
    while (common < label.length && at + common < pattern.length && label[common] === pattern[at + common]) {
      common++;
    }
    if (common < label.length) {
      // The pattern ends or turns inside this edge: split it.
      const middle = new PrefixNode<T>();
      middle.edges = new Map([[label.charCodeAt(common), { label: label.slice(common), node: edge.node }]]);
      edge.label = label.slice(0, common);
      edge.node = middle;
    }
    node = edge.node;
    at += common;
  }
  node.value = value;
}

function prefixNode<T>(root: PrefixNode<T>, pattern: string): PrefixNode<T> | undefined {
  let node = root;
  let at = 0;
  while (at < pattern.length) {
    const edge = node.edges?.get(pattern.charCodeAt(at));
    if (edge === undefined || !pattern.startsWith(edge.label, at)) return undefined;
    at += edge.label.length;
    node = edge.node;
  }
  return node;
}

/** Removes the prefix `pattern` below `node` (`at` characters already walked), pruning emptied leaves. */
function deletePrefix<T>(node: PrefixNode<T>, pattern: string, at: number): boolean {
  if (at === pattern.length) {
    if (node.value === undefined) return false;
    node.value = undefined;
    return true;
  }
  const key = pattern.charCodeAt(at);
  const edge = node.edges?.get(key);
  if (edge === undefined || !pattern.startsWith(edge.label, at)) return false;
  if (!deletePrefix(edge.node, pattern, at + edge.label.length)) return false;
  const child = edge.node;
  if (child.value === undefined && (child.edges === null || child.edges.size === 0)) node.edges!.delete(key);
  else if (child.value === undefined && child.edges!.size === 1) {
    // Keep the tree compressed: a valueless node with one edge joins it to its parent's.
    const only = child.edges!.values().next().value!;
    edge.label += only.label;
    edge.node = only.node;
  }
  return true;
}

/** The value of the longest prefix of `uri` in the tree. */
function longestPrefix<T>(root: PrefixNode<T>, uri: string): T | undefined {
  let node = root;
  let at = 0;
  let best = node.value;
  while (at < uri.length && node.edges !== null) {
    const edge = node.edges.get(uri.charCodeAt(at));
    if (edge === undefined || !uri.startsWith(edge.label, at)) break;
    at += edge.label.length;
    node = edge.node;
    if (node.value !== undefined) best = node.value;
  }
  return best;
}

/** Appends the value of every prefix of `uri` in the tree, shortest first. */
function collectPrefixes<T>(root: PrefixNode<T>, uri: string, out: T[]): void {
  let node = root;
  let at = 0;
  if (node.value !== undefined) out.push(node.value);
  while (at < uri.length && node.edges !== null) {
    const edge = node.edges.get(uri.charCodeAt(at));
    if (edge === undefined || !uri.startsWith(edge.label, at)) return;
    at += edge.label.length;
    node = edge.node;
    if (node.value !== undefined) out.push(node.value);
  }
}

/** A URI pattern and its match policy (a subscription's, a registration's or a permission's). */
export interface UriPattern {
  /** The URI, or the pattern for `prefix` and `wildcard`. */
  uri: string;
  /** How `uri` is matched. */
  match: MatchPolicy;
}

/** Whether `pattern` matches the concrete `uri`. */
export function patternMatches(pattern: UriPattern, uri: string): boolean {
  if (pattern.match === "exact") return pattern.uri === uri;
  if (pattern.match === "prefix") return uri.startsWith(pattern.uri);
  const p = pattern.uri.split(".");
  const u = uri.split(".");
  return p.length === u.length && p.every((c, i) => c === "" || c === u[i]);
}

/**
 * The text every URI a wildcard matches starts with: its components up to the
 * first empty one (`push..messages` → `push.`), or the whole pattern when it has
 * no empty component (then it matches that one URI).
 */
function leadingLiteral(wildcard: string): string {
  const parts = wildcard.split(".");
  const at = parts.indexOf("");
  return at === -1 ? wildcard : parts.slice(0, at).map((p) => p + ".").join("");
}

/** Whether `outer` matches every URI `inner` matches. */
export function patternCovers(outer: UriPattern, inner: UriPattern): boolean {
  if (inner.match === "exact") return patternMatches(outer, inner.uri);
  // An exact URI never covers a pattern (a wildcard without empty components is a
  // pattern of one URI; treating it as uncovered only refuses more).
  if (outer.match === "exact") return false;
  if (outer.match === "prefix") {
    return (inner.match === "prefix" ? inner.uri : leadingLiteral(inner.uri)).startsWith(outer.uri);
  }
  if (inner.match === "prefix") return false;
  const o = outer.uri.split(".");
  const i = inner.uri.split(".");
  return o.length === i.length && o.every((c, n) => c === "" || (i[n] !== "" && c === i[n]));
}

/** Whether some URI could match both patterns (true when that cannot be ruled out cheaply). */
export function patternsOverlap(a: UriPattern, b: UriPattern): boolean {
  if (a.match === "exact") return patternMatches(b, a.uri);
  if (b.match === "exact") return patternMatches(a, b.uri);
  if (a.match === "prefix" && b.match === "prefix") return a.uri.startsWith(b.uri) || b.uri.startsWith(a.uri);
  if (a.match === "wildcard" && b.match === "wildcard") {
    const x = a.uri.split(".");
    const y = b.uri.split(".");
    return x.length === y.length && x.every((c, n) => c === "" || y[n] === "" || c === y[n]);
  }
  const [prefix, wildcard] = a.match === "prefix" ? [a.uri, b.uri] : [b.uri, a.uri];
  const literal = leadingLiteral(wildcard);
  return literal.startsWith(prefix) || prefix.startsWith(literal);
}

/**
 * Whether `a` could decide over `b` for some URI both match, by the precedence
 * rule: exact before prefix, a longer prefix before a shorter one, any prefix
 * before a wildcard; between two wildcards, which one depends on the URI, so yes.
 */
export function mayPrecede(a: UriPattern, b: UriPattern): boolean {
  if (a.match === "exact") return b.match !== "exact";
  if (a.match === "prefix") {
    return b.match === "wildcard" || (b.match === "prefix" && a.uri.length > b.uri.length);
  }
  return b.match === "wildcard";
}

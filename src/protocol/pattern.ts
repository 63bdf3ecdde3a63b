/**
 * URI patterns: the three WAMP match policies (`exact`, `prefix`, `wildcard`),
 * indexed so that neither finding the most specific pattern for a URI nor finding
 * every pattern that matches it ever scans the patterns:
 *
 * - exact patterns: one map lookup;
 * - prefixes: one table per distinct prefix length, so a URI costs one lookup per
 *   length no longer than itself;
 * - wildcards: a tree of components, walked along the URI's components, taking
 *   the literal branch and the "any" branch at each level, so unrelated patterns
 *   cost nothing.
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
  #prefix = new Map<number, Map<string, T>>();
  /** The distinct lengths of the prefixes, longest first. */
  #prefixLengths: number[] = [];
  #wildcard = new WildcardNode<T>();
  #patterns = 0;

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
    if (this.get(pattern, match) === undefined) this.#patterns++;
    if (match === "exact") {
      this.#exact.set(pattern, value);
    } else if (match === "prefix") {
      let table = this.#prefix.get(pattern.length);
      if (table === undefined) {
        this.#prefix.set(pattern.length, table = new Map());
        this.#prefixLengths.push(pattern.length);
        this.#prefixLengths.sort((a, b) => b - a);
      }
      table.set(pattern, value);
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
    if (match === "prefix") return this.#prefix.get(pattern.length)?.get(pattern);
    let node: WildcardNode<T> | null | undefined = this.#wildcard;
    for (const part of pattern.split(".")) {
      node = part === "" ? node.any : node.literal?.get(part);
      if (node == null) return undefined;
    }
    return node.value;
  }

  /** Removes a pattern; false when the index did not hold it. */
  delete(pattern: string, match: MatchPolicy): boolean {
    if (match === "exact") return this.#exact.delete(pattern) && this.#dropped();
    if (match === "prefix") {
      const table = this.#prefix.get(pattern.length);
      if (table === undefined || !table.delete(pattern)) return false;
      if (table.size === 0) {
        this.#prefix.delete(pattern.length);
        this.#prefixLengths = this.#prefixLengths.filter((l) => l !== pattern.length);
      }
      return this.#dropped();
    }
    return this.#deleteWildcard(this.#wildcard, pattern.split("."), 0) && this.#dropped();
  }

  /** The value of the most specific pattern matching `uri` (see the module doc), if any. */
  best(uri: string): T | undefined {
    const exact = this.#exact.get(uri);
    if (exact !== undefined) return exact;
    for (const length of this.#prefixLengths) {
      if (length > uri.length) continue;
      const value = this.#prefix.get(length)!.get(length === uri.length ? uri : uri.slice(0, length));
      if (value !== undefined) return value;
    }
    if (this.#wildcard.empty) return undefined;
    return bestWildcard(this.#wildcard, uri.split("."), 0);
  }

  /**
   * Appends to `out` the values of every pattern matching `uri`: the exact one,
   * then prefixes longest first, then wildcards most specific first.
   */
  collect(uri: string, out: T[]): void {
    const exact = this.#exact.get(uri);
    if (exact !== undefined) out.push(exact);
    this.collectPatterns(uri, out);
  }

  /** Like {@link collect}, without the exact pattern (for callers that looked it up already). */
  collectPatterns(uri: string, out: T[]): void {
    for (const length of this.#prefixLengths) {
      if (length > uri.length) continue;
      const value = this.#prefix.get(length)!.get(length === uri.length ? uri : uri.slice(0, length));
      if (value !== undefined) out.push(value);
    }
    if (!this.#wildcard.empty) collectWildcard(this.#wildcard, uri.split("."), 0, out);
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

function bestWildcard<T>(node: WildcardNode<T>, parts: string[], at: number): T | undefined {
  if (at === parts.length) return node.value;
  const literal = node.literal?.get(parts[at]);
  if (literal !== undefined) {
    const found = bestWildcard(literal, parts, at + 1);
    if (found !== undefined) return found;
  }
  return node.any === null ? undefined : bestWildcard(node.any, parts, at + 1);
}

function collectWildcard<T>(node: WildcardNode<T>, parts: string[], at: number, out: T[]): void {
  if (at === parts.length) {
    if (node.value !== undefined) out.push(node.value);
    return;
  }
  const literal = node.literal?.get(parts[at]);
  if (literal !== undefined) collectWildcard(literal, parts, at + 1, out);
  if (node.any !== null) collectWildcard(node.any, parts, at + 1, out);
}

/**
 * URI patterns: the three WAMP match policies (`exact`, `prefix`, `wildcard`),
 * indexed so that finding the most specific pattern for a URI costs one lookup per
 * distinct prefix length plus a look at the wildcard patterns with as many
 * components as the URI, never a scan of every pattern.
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

interface WildcardEntry<T> {
  /** The pattern's components; "" matches any one component. */
  parts: string[];
  value: T;
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
 * ```
 */
export class PatternIndex<T> {
  #exact = new Map<string, T>();
  #prefix = new Map<string, T>();
  /** The distinct lengths of the prefixes, longest first: a lookup tries each once. */
  #prefixLengths: number[] = [];
  /** Wildcard patterns by component count, each list most specific first. */
  #wildcard = new Map<number, WildcardEntry<T>[]>();

  /** Maps `pattern` under `match` to `value`, replacing what it held. */
  set(pattern: string, match: MatchPolicy, value: T): void {
    if (match === "exact") {
      this.#exact.set(pattern, value);
    } else if (match === "prefix") {
      if (!this.#prefixLengths.includes(pattern.length)) {
        this.#prefixLengths.push(pattern.length);
        this.#prefixLengths.sort((a, b) => b - a);
      }
      this.#prefix.set(pattern, value);
    } else {
      const parts = pattern.split(".");
      const list = this.#wildcard.get(parts.length) ?? [];
      const at = list.findIndex((e) => e.parts.join(".") === pattern);
      if (at >= 0) list[at].value = value;
      else {
        list.push({ parts, value });
        list.sort((a, b) => moreSpecific(a.parts, b.parts));
      }
      this.#wildcard.set(parts.length, list);
    }
  }

  /** The value of the most specific pattern matching `uri` (see the module doc), if any. */
  best(uri: string): T | undefined {
    const exact = this.#exact.get(uri);
    if (exact !== undefined) return exact;
    for (const length of this.#prefixLengths) {
      if (length > uri.length) continue;
      const value = this.#prefix.get(length === uri.length ? uri : uri.slice(0, length));
      if (value !== undefined) return value;
    }
    if (this.#wildcard.size === 0) return undefined;
    const parts = uri.split(".");
    const candidates = this.#wildcard.get(parts.length);
    if (candidates === undefined) return undefined;
    for (const entry of candidates) if (wildcardMatches(entry.parts, parts)) return entry.value;
    return undefined;
  }
}

/** Whether a wildcard pattern's components match a URI's components (same count). */
function wildcardMatches(pattern: readonly string[], parts: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== "" && pattern[i] !== parts[i]) return false;
  }
  return true;
}

/** Sort order: at the first component where one is literal and the other empty, the literal one first. */
function moreSpecific(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const al = a[i] !== "";
    const bl = b[i] !== "";
    if (al !== bl) return al ? -1 : 1;
  }
  return 0;
}

/**
 * Testaments (WAMP advanced profile, the testament meta API): events a session
 * leaves with the router, published on its behalf when it leaves the realm, by
 * GOODBYE, by a dropped socket, or by being killed.
 *
 * Each session has two buckets, `detached` and `destroyed`, as the spec asks.
 * Tuerca has no session resumption, so a session is detached and destroyed at the
 * same moment: the `detached` testaments are published first, then the
 * `destroyed` ones, each bucket in the order the testaments were added.
 *
 * @module
 */

import type { Dict } from "../protocol/messages.ts";
import type { Participant } from "./participant.ts";

/** When a testament is published. */
export type TestamentScope = "detached" | "destroyed";

/** One testament: a publish the router makes for a session that left. */
export interface Testament {
  /** The topic URI, checked and authorized when the testament was added. */
  topic: string;
  /** Positional payload. */
  args?: unknown[];
  /** Keyword payload. */
  kwargs?: Dict;
  /** The PUBLISH options honored: `exclude_me`, `disclose_me`, black- and whitelists. */
  options: Dict;
}

/** How many testaments a session may leave, in both buckets together. */
export const MAX_TESTAMENTS = 64;

/** A session's testaments, by when they are published. */
export interface Buckets {
  /** Published first, when the session detaches. */
  detached: Testament[];
  /** Published when the session is destroyed. */
  destroyed: Testament[];
}

/** The testaments of a realm's sessions. */
export class Testaments {
  /** Told after a session's testaments changed (the cluster layer copies them to the other nodes). */
  onChange: ((s: Participant) => void) | null = null;
  #of = new Map<Participant, Buckets>();

  /** `s`'s testaments (the stored lists: do not change them). */
  of(s: Participant): Buckets {
    return this.#of.get(s) ?? { detached: [], destroyed: [] };
  }

  /** Replaces everything `s` left (a copy from the session's own cluster node). */
  set(s: Participant, buckets: Buckets): void {
    if (buckets.detached.length === 0 && buckets.destroyed.length === 0) this.#of.delete(s);
    else this.#of.set(s, { detached: [...buckets.detached], destroyed: [...buckets.destroyed] });
  }

  /** How many testaments `s` has left, in both buckets. */
  countOf(s: Participant): number {
    const b = this.#of.get(s);
    return b === undefined ? 0 : b.detached.length + b.destroyed.length;
  }

  /** Adds a testament to `s`'s bucket for `scope`. */
  add(s: Participant, scope: TestamentScope, testament: Testament): void {
    let b = this.#of.get(s);
    if (b === undefined) this.#of.set(s, b = { detached: [], destroyed: [] });
    b[scope].push(testament);
    this.onChange?.(s);
  }

  /** Empties `s`'s bucket for `scope`; returns how many testaments it held. */
  flush(s: Participant, scope: TestamentScope): number {
    const b = this.#of.get(s);
    if (b === undefined) return 0;
    const n = b[scope].length;
    b[scope] = [];
    if (b.detached.length === 0 && b.destroyed.length === 0) this.#of.delete(s);
    if (n > 0) this.onChange?.(s);
    return n;
  }

  /** Removes and returns everything `s` left, in publishing order (detached, then destroyed). */
  take(s: Participant): Testament[] {
    const b = this.#of.get(s);
    if (b === undefined) return [];
    this.#of.delete(s);
    return [...b.detached, ...b.destroyed];
  }
}

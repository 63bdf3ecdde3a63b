/**
 * Authorization: what a session may do, by its role, on which URIs. Each realm
 * defines roles; each role a list of permissions in Crossbar.io's shape:
 *
 * ```json
 * { "uri": "push.tutorial.", "match": "prefix",
 *   "allow": { "call": true, "register": false, "publish": true, "subscribe": true },
 *   "disclose": { "caller": false, "publisher": false } }
 * ```
 *
 * Rule: the most specific permission matching the URI decides, for all four
 * actions: an exact one, else the longest prefix, else a wildcard (see
 * {@link PatternIndex}). A URI no permission matches is denied, and so is every
 * URI for a role the realm does not define.
 *
 * @module
 */

import type { StoreConfig } from "../store/store.ts";
import {
  type MatchPolicy,
  mayPrecede,
  patternCovers,
  PatternIndex,
  patternsOverlap,
  type UriPattern,
} from "../protocol/pattern.ts";

/** The four things a session asks to do with a URI. */
export type Action = "call" | "register" | "publish" | "subscribe";

/** One permission of a role (Crossbar.io's keys). */
export interface Permission {
  /** The URI, or URI pattern, the permission covers. */
  uri: string;
  /** How `uri` is matched. */
  match: MatchPolicy;
  /** Which actions are allowed on matching URIs. */
  allow: Record<Action, boolean>;
  /**
   * Disclosure forced on this role: `caller` puts the caller's identity in
   * INVOCATION details, `publisher` the publisher's in EVENT details, as if the
   * client had asked with `disclose_me`.
   */
  disclose: { caller: boolean; publisher: boolean };
}

/** A role: a name and its permissions. */
export interface RoleDefinition {
  /** The role name, as `authrole` carries it. */
  name: string;
  /** The permissions, in any order (precedence comes from the match, not the order). */
  permissions: Permission[];
}

/** A realm and the roles sessions may join it under. */
export interface RealmDefinition {
  /** The realm name, as HELLO names it. */
  name: string;
  /** The roles defined on the realm. */
  roles: RoleDefinition[];
  /** Which topics keep history; without it, the router's default. */
  store?: StoreConfig;
}

/** The permissions of one role, with the decision for each URI remembered. */
export class RolePermissions {
  // The decision per URI is remembered (bestRemembered): the common case, a session
  // publishing to the same few topics, costs one map lookup.
  readonly #index = new PatternIndex<Permission>();

  /**
   * Indexes a role's permissions.
   * @param name the role name
   * @param permissions the role's permissions
   */
  constructor(readonly name: string, readonly permissions: readonly Permission[]) {
    for (const p of permissions) this.#index.set(p.uri, p.match, p);
  }

  /** The permission that decides for `uri`, or null when none matches (everything denied). */
  lookup(uri: string): Permission | null {
    return this.#index.bestRemembered(uri);
  }

  /**
   * The permission that lets this role `action` (subscribe, register) every URI a
   * pattern matches, or null. A pattern is allowed only when one allowing
   * permission covers all of it and no denying permission that overlaps it could
   * decide over that one for some URI: a prefix subscription to `secr` must not
   * hear `secret.` events the role may not subscribe to. When in doubt, no.
   */
  lookupPattern(pattern: UriPattern, action: Action): Permission | null {
    if (pattern.match === "exact") {
      const p = this.lookup(pattern.uri);
      return p !== null && p.allow[action] ? p : null;
    }
    let decider: Permission | null = null;
    for (const p of this.permissions) {
      if (patternCovers(p, pattern) && (decider === null || mayPrecede(p, decider))) decider = p;
    }
    if (decider === null || !decider.allow[action]) return null;
    for (const p of this.permissions) {
      if (!p.allow[action] && patternsOverlap(p, pattern) && mayPrecede(p, decider)) return null;
    }
    return decider;
  }

  /** Whether this role may do `action` on `uri`. */
  allows(action: Action, uri: string): boolean {
    return this.lookup(uri)?.allow[action] === true;
  }
}

/** The role of a session that has no role (v1 before authenticating when anonymous is off): denied everything. */
export const NO_ROLE: RolePermissions = new RolePermissions("", []);

/** The roles of one realm. */
export class Authorizer {
  readonly #roles = new Map<string, RolePermissions>();

  /** Indexes the roles of a realm. */
  constructor(roles: readonly RoleDefinition[]) {
    for (const r of roles) this.#roles.set(r.name, new RolePermissions(r.name, r.permissions));
  }

  /** Whether the realm defines `role`. */
  has(role: string): boolean {
    return this.#roles.has(role);
  }

  /** The permissions of `role`; a role the realm does not define may do nothing. */
  role(role: string): RolePermissions {
    return this.#roles.get(role) ?? NO_ROLE;
  }
}

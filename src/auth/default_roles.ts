/**
 * The roles a realm has when no configuration file defines them: anonymous tabs
 * may do what the demo pages need, and everything else they did before roles
 * existed, except three things:
 *
 * - only the server itself registers `push.tutorial.*` and `chat.*` procedures, so
 *   no tab can take `areaCuadrado` over;
 * - in the router's `wamp.` space they may call and subscribe (the read-only meta
 *   API: counts, lists, lookups, meta events, history) ...
 * - ... but not call the procedures that kill sessions or revoke subscriptions and
 *   registrations.
 *
 * @module
 */

import type { Action, Permission, RoleDefinition } from "./authorizer.ts";
import type { MatchPolicy } from "../protocol/pattern.ts";

/** The role anonymous sessions get. */
export const ANONYMOUS_ROLE = "anonymous";

function permission(uri: string, match: MatchPolicy, allowed: Action[]): Permission {
  return {
    uri,
    match,
    allow: {
      call: allowed.includes("call"),
      register: allowed.includes("register"),
      publish: allowed.includes("publish"),
      subscribe: allowed.includes("subscribe"),
    },
    disclose: { caller: false, publisher: false },
  };
}

const ALL: Action[] = ["call", "register", "publish", "subscribe"];
const NO_REGISTER: Action[] = ["call", "publish", "subscribe"];

/** The default roles (see the module doc); `tuerca.example.json` spells them out. */
export function defaultRoles(): RoleDefinition[] {
  return [{
    name: ANONYMOUS_ROLE,
    permissions: [
      permission("", "prefix", ALL),
      permission("push.tutorial.", "prefix", NO_REGISTER),
      permission("chat.", "prefix", NO_REGISTER),
      permission("wamp.", "prefix", ["call", "subscribe"]),
      // Subscribe stays allowed on these procedure URIs (no topic has them) so that a
      // pattern subscription covering them, such as the prefix `wamp.session.`, is not refused.
      permission("wamp.session.kill", "prefix", ["subscribe"]),
      permission("wamp.subscription.remove_subscriber", "exact", ["subscribe"]),
      permission("wamp.registration.remove_callee", "exact", ["subscribe"]),
    ],
  }];
}

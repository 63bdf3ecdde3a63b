/**
 * The `realms` section: each realm with its roles and their permissions, in
 * Crossbar.io's shape. A permission without `match` may use Crossbar's starred
 * URIs: `com.example.*` is the prefix `com.example.`, `com.*.create` the wildcard
 * `com..create`, `*` every URI.
 *
 * @module
 */

import type { Permission, RealmDefinition, RoleDefinition } from "../auth/authorizer.ts";
import { MATCH_POLICIES, type MatchPolicy } from "../protocol/pattern.ts";
import { isValidUri } from "../protocol/uri.ts";
import type { ConfigNode } from "./node.ts";
import { checkPattern } from "./pattern.ts";
import { parseStore } from "./store.ts";

/** Role names that belong to the router itself and cannot be given to clients. */
export const RESERVED_ROLES: readonly string[] = ["trusted", "bridge"];

/** Reads `realms`: a non-empty list of realms with distinct names. */
export function parseRealms(node: ConfigNode): RealmDefinition[] {
  const realms = node.items("a list of realms").map(parseRealm);
  if (realms.length === 0) node.fail("expected at least one realm");
  const seen = new Set<string>();
  realms.forEach((r, i) => {
    if (seen.has(r.name)) {
      node.items("")[i].key("name").fail(`realm ${JSON.stringify(r.name)} is defined twice`);
    }
    seen.add(r.name);
  });
  return realms;
}

function parseRealm(node: ConfigNode): RealmDefinition {
  node.object(["name", "roles", "store"], "a realm");
  const name = node.key("name").name();
  if (!isValidUri(name)) {
    node.key("name").fail(
      "expected a realm name in URI form (dot-separated words, such as realm1 or com.example)",
    );
  }
  const rolesNode = node.key("roles");
  const roles = rolesNode.items("a list of roles").map(parseRole);
  if (roles.length === 0) {
    rolesNode.fail("expected at least one role: with none, no session could do anything");
  }
  const seen = new Set<string>();
  roles.forEach((r, i) => {
    if (seen.has(r.name)) {
      rolesNode.items("")[i].key("name").fail(`role ${JSON.stringify(r.name)} is defined twice`);
    }
    seen.add(r.name);
  });
  const store = node.key("store");
  return store.absent ? { name, roles } : { name, roles, store: parseStore(store) };
}

function parseRole(node: ConfigNode): RoleDefinition {
  node.object(["name", "permissions"], "a role");
  const nameNode = node.key("name");
  const name = nameNode.name();
  if (RESERVED_ROLES.includes(name)) {
    nameNode.fail(`the role name ${JSON.stringify(name)} is the router's own; pick another`);
  }
  const perms = node.key("permissions");
  return { name, permissions: perms.absent ? [] : perms.items("a list of permissions").map(parsePermission) };
}

function parsePermission(node: ConfigNode): Permission {
  node.object(["uri", "match", "allow", "disclose", "cache"], "a permission");
  const uriNode = node.key("uri");
  let uri = uriNode.string();
  let match: MatchPolicy;
  if (node.key("match").absent) {
    [uri, match] = starred(uri);
  } else {
    match = node.key("match").oneOf(MATCH_POLICIES);
  }
  checkPattern(uriNode, uri, match);
  const allow = node.key("allow");
  if (!allow.absent) allow.object(["call", "register", "publish", "subscribe"], "the allowed actions");
  const disclose = node.key("disclose");
  if (!disclose.absent) disclose.object(["caller", "publisher"], "the disclosure");
  node.key("cache").boolean(true); // Crossbar's key; decisions are always cached here.
  return {
    uri,
    match,
    allow: {
      call: allow.key("call").boolean(false),
      register: allow.key("register").boolean(false),
      publish: allow.key("publish").boolean(false),
      subscribe: allow.key("subscribe").boolean(false),
    },
    disclose: {
      caller: disclose.key("caller").boolean(false),
      publisher: disclose.key("publisher").boolean(false),
    },
  };
}

/** Crossbar's starred URI form: the URI and policy it stands for. */
function starred(uri: string): [string, MatchPolicy] {
  if (uri === "*") return ["", "prefix"];
  if (uri.endsWith(".*") && !uri.slice(0, -2).includes("*")) return [uri.slice(0, -1), "prefix"];
  if (uri.split(".").includes("*")) {
    return [uri.split(".").map((c) => c === "*" ? "" : c).join("."), "wildcard"];
  }
  return [uri, "exact"];
}

/**
 * The `auth` section, in Crossbar.io's shape: one entry per method, each
 * `"type": "static"` with its principals. A method that is absent, or has no
 * principals, is off; `anonymous` is on (role `anonymous`) when the section is
 * absent, and off when the section is present without it.
 *
 * Secrets (tickets, WAMP-CRA secrets) may be written as `{ "env": "NAME" }`.
 *
 * @module
 */

import type {
  AuthConfig,
  CraUser,
  CryptosignPrincipal,
  PrincipalBase,
  TicketPrincipal,
} from "../auth/authenticator.ts";
import { DEFAULT_AUTH } from "../auth/authenticator.ts";
import type { ConfigNode } from "./node.ts";

/** A role or realm named in `auth`, and where, for the check against the realms. */
export interface RoleReference {
  /** The role name, when a role is named. */
  role?: string;
  /** The realm name, when a realm is named. */
  realm?: string;
  /** The node naming it. */
  node: ConfigNode;
}

/** Reads `auth`; `refs` collects every role it names. */
export function parseAuth(node: ConfigNode, refs: RoleReference[]): AuthConfig {
  if (node.absent) {
    refs.push({ role: DEFAULT_AUTH.anonymous!.role, node });
    return DEFAULT_AUTH;
  }
  node.object(["anonymous", "ticket", "wampcra", "cryptosign"], "the authentication methods");
  const config: AuthConfig = {};
  const anonymous = node.key("anonymous");
  if (!anonymous.absent) {
    anonymous.object(["type", "role"], "anonymous access");
    staticType(anonymous);
    const roleNode = anonymous.key("role");
    config.anonymous = { role: roleNode.name("anonymous") };
    refs.push({ role: config.anonymous.role, node: roleNode.absent ? anonymous : roleNode });
  }
  const ticket = node.key("ticket");
  if (!ticket.absent) config.ticket = principals(ticket, "principals", refs, parseTicket);
  const cra = node.key("wampcra");
  if (!cra.absent) config.wampcra = principals(cra, "users", refs, parseCraUser);
  const cryptosign = node.key("cryptosign");
  if (!cryptosign.absent) config.cryptosign = principals(cryptosign, "principals", refs, parseCryptosign);
  return config;
}

function staticType(node: ConfigNode): void {
  node.key("type").oneOf(["static"], "static");
}

function principals<T extends PrincipalBase>(
  node: ConfigNode,
  listKey: string,
  refs: RoleReference[],
  parse: (node: ConfigNode) => T,
): Map<string, T> {
  node.object(["type", listKey], "an authentication method");
  staticType(node);
  const map = new Map<string, T>();
  const list = node.key(listKey);
  if (list.absent) return map;
  for (const [authid, p] of list.entries(`the ${listKey} by authid`)) {
    if (authid === "" || authid.length > 256) p.fail("an authid has 1 to 256 characters");
    const principal = parse(p);
    refs.push({ role: principal.role, node: p.key("role") });
    if (principal.realm !== undefined) refs.push({ realm: principal.realm, node: p.key("realm") });
    map.set(authid, principal);
  }
  return map;
}

function base(node: ConfigNode): PrincipalBase {
  const role = node.key("role").name();
  const realmNode = node.key("realm");
  return realmNode.absent ? { role } : { role, realm: realmNode.name() };
}

function parseTicket(node: ConfigNode): TicketPrincipal {
  node.object(["ticket", "role", "realm"], "a ticket principal");
  return { ...base(node), ticket: node.key("ticket").secret() };
}

function parseCraUser(node: ConfigNode): CraUser {
  node.object(["secret", "role", "realm", "salt", "iterations", "keylen"], "a WAMP-CRA user");
  const user: CraUser = { ...base(node), secret: node.key("secret").secret() };
  const salt = node.key("salt");
  if (!salt.absent) {
    user.salt = salt.name();
    user.iterations = node.key("iterations").integer(1, 10_000_000, 1000);
    user.keylen = node.key("keylen").integer(1, 1024, 32);
  } else if (!node.key("iterations").absent || !node.key("keylen").absent) {
    node.key("salt").fail(
      '"iterations" and "keylen" need a "salt"; add the salt the secret was derived with',
    );
  }
  return user;
}

function parseCryptosign(node: ConfigNode): CryptosignPrincipal {
  node.object(["authorized_keys", "role", "realm"], "a cryptosign principal");
  const keys = node.key("authorized_keys").items("a list of public keys").map((k) => {
    const key = k.string().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(key)) k.fail("expected an Ed25519 public key: 64 hex digits");
    return key;
  });
  if (keys.length === 0) node.key("authorized_keys").fail("expected at least one public key");
  return { ...base(node), authorizedKeys: keys };
}

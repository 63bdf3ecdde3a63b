/**
 * The messages nodes of a cluster exchange through the backbone, and their
 * MessagePack form. Every message names its sender node (`n`); those about a realm
 * name it (`r`). Short keys: an event crosses the broker once per interested node.
 *
 * Broadcast to every node (the control exchange): `hello` (a node starts or comes
 * back, with everything it holds; the others answer `state` to it alone), `hb`
 * (heartbeat), `bye` (a node stops), `join` / `leave` (a session), `reg` / `unreg`
 * (a callee joins or leaves a registration), `tst` (a session's testaments),
 * `watch` (the meta topics the node's subscribers hold) and `subq` (the meta API
 * asks for every node's subscriptions in a realm).
 *
 * Through a realm's exchange: `ev`, a publish.
 *
 * To one node (its queue): `state`, and the four legs of a call, `inv`
 * (caller's node → callee's node), `int` (interrupt), `res` and `err` (the
 * answer), `kill` (the meta API's kill of a session on that node) and `suba` (a
 * node's subscriptions, answering `subq`).
 *
 * Nodes of a cluster trust each other (they share the broker's credentials), but a
 * message that does not have the shape below is dropped and counted, never acted on.
 *
 * @module
 */

import { isDict } from "../codec/codec.ts";
import { msgpackFormat } from "../codec/v2_msgpack.ts";
import { isId } from "../protocol/ids.ts";
import type { Dict } from "../protocol/messages.ts";
import { isMatchPolicy, type MatchPolicy } from "../protocol/pattern.ts";
import { INVOCATION_POLICIES, type InvocationPolicy } from "../realm/dealer.ts";
import type { Testament } from "../realm/testament.ts";

/** A session as other nodes know it. */
export interface SessionInfo {
  /** Session id (unique in the cluster: random in 1..2^53). */
  id: number;
  /** Its authenticated identity. */
  authid: string;
  /** Its role. */
  authrole: string;
  /** How it authenticated. */
  authmethod: string;
  /** Who authenticated it. */
  authprovider: string;
  /** Its transport's protocol (`wamp.2.json`, `wamp`, ...). */
  protocol: string;
}

/** One callee's place in a registration. */
export interface RegInfo {
  /** The callee's session id. */
  i: number;
  /** Procedure URI or pattern. */
  p: string;
  /** How `p` is matched. */
  m: MatchPolicy;
  /** The invocation policy. */
  v: InvocationPolicy;
  /** When the registration was made (ms since the epoch): of two that conflict, the earlier wins. */
  at: number;
}

/** A subscription on the answering node, for the meta API of the asking one. */
export interface SubInfo {
  /** Its id (unique in the cluster). */
  i: number;
  /** Topic or pattern. */
  u: string;
  /** How `u` is matched. */
  m: MatchPolicy;
  /** When it was created (ms since the epoch). */
  c: number;
  /** How many client sessions hold it. */
  n: number;
  /** Their ids, when the question asked for them. */
  s?: number[];
}

/** What a node holds in one realm. */
export interface RealmState {
  /** Its client sessions. */
  sessions: SessionInfo[];
  /** Their registrations, one entry per callee. */
  regs: RegInfo[];
  /** Testaments by session id: `[id, detached, destroyed]`. */
  testaments: [number, Testament[], Testament[]][];
  /** The meta topics some subscription on the node matches. */
  watch: string[];
}

/** Every backbone message. */
export type ClusterMessage =
  | { k: "hello"; n: string; s: Record<string, RealmState> }
  | { k: "state"; n: string; s: Record<string, RealmState> }
  | { k: "hb"; n: string }
  | { k: "bye"; n: string }
  | { k: "join"; n: string; r: string; s: SessionInfo }
  | { k: "leave"; n: string; r: string; i: number }
  | ({ k: "reg"; n: string; r: string } & RegInfo)
  | ({ k: "unreg"; n: string; r: string } & RegInfo)
  | { k: "tst"; n: string; r: string; i: number; d: Testament[]; x: Testament[] }
  | { k: "watch"; n: string; r: string; w: string[] }
  | { k: "ev"; n: string; r: string; p: number; t: string; a?: unknown[]; w?: Dict; o: Dict; d?: Dict }
  | {
    k: "inv";
    n: string;
    r: string;
    c: number;
    q: number;
    p: string;
    m: MatchPolicy;
    d: Dict;
    a?: unknown[];
    w?: Dict;
  }
  | { k: "int"; n: string; r: string; q: number; mode: string; why?: string }
  | { k: "res"; n: string; r: string; q: number; d: Dict; a?: unknown[]; w?: Dict }
  | { k: "err"; n: string; r: string; q: number; e: string; a?: unknown[]; w?: Dict }
  | { k: "kill"; n: string; r: string; i: number; reason: string; message?: string }
  | { k: "subq"; n: string; r: string; q: number; w?: boolean; u?: string; m?: MatchPolicy; t?: string }
  | { k: "suba"; n: string; r: string; q: number; s: SubInfo[] };

/** The MessagePack bytes of a message. */
export function encodeMessage(m: ClusterMessage): Uint8Array {
  return msgpackFormat.encode(m);
}

/** The message in `bytes`, or null when it is not one (the caller counts and drops it). */
export function decodeMessage(bytes: Uint8Array): ClusterMessage | null {
  let m: unknown;
  try {
    m = msgpackFormat.decode(bytes);
  } catch {
    return null;
  }
  return isMessage(m) ? m : null;
}

const isText = (v: unknown): v is string => typeof v === "string";
const isTexts = (v: unknown): v is string[] => Array.isArray(v) && v.every(isText);
const isPayload = (m: Dict): boolean => (m.a == null || Array.isArray(m.a)) && (m.w == null || isDict(m.w));

function isSession(v: unknown): v is SessionInfo {
  return isDict(v) && isId(v.id) && isText(v.authid) && isText(v.authrole) && isText(v.authmethod) &&
    isText(v.authprovider) && isText(v.protocol);
}

function isReg(v: Dict): boolean {
  return isId(v.i) && isText(v.p) && isMatchPolicy(v.m) &&
    INVOCATION_POLICIES.includes(v.v as InvocationPolicy) && typeof v.at === "number";
}

function isTestaments(v: unknown): v is Testament[] {
  return Array.isArray(v) && v.every((t) =>
    isDict(t) && isText(t.topic) && isDict(t.options) && isPayload({
      a: t.args,
      w: t.kwargs,
    })
  );
}

function isSubInfo(v: unknown): v is SubInfo {
  return isDict(v) && isId(v.i) && isText(v.u) && isMatchPolicy(v.m) && typeof v.c === "number" &&
    isId(v.n) && (v.s == null || (Array.isArray(v.s) && v.s.every(isId)));
}

function isRealmState(v: unknown): v is RealmState {
  return isDict(v) && Array.isArray(v.sessions) && v.sessions.every(isSession) && Array.isArray(v.regs) &&
    v.regs.every((r) => isDict(r) && isReg(r)) && Array.isArray(v.testaments) &&
    v.testaments.every((t) =>
      Array.isArray(t) && t.length === 3 && isId(t[0]) && isTestaments(t[1]) && isTestaments(t[2])
    ) && isTexts(v.watch);
}

function isMessage(m: unknown): m is ClusterMessage {
  if (!isDict(m) || !isText(m.n) || !isText(m.k)) return false;
  const realm = isText(m.r);
  switch (m.k) {
    case "hb":
    case "bye":
      return true;
    case "hello":
    case "state":
      return isDict(m.s) && Object.values(m.s).every(isRealmState);
    case "join":
      return realm && isSession(m.s);
    case "leave":
      return realm && isId(m.i);
    case "reg":
    case "unreg":
      return realm && isReg(m);
    case "tst":
      return realm && isId(m.i) && isTestaments(m.d) && isTestaments(m.x);
    case "watch":
      return realm && isTexts(m.w);
    case "ev":
      return realm && isId(m.p) && isText(m.t) && isDict(m.o) && (m.d == null || isDict(m.d)) &&
        isPayload(m);
    case "inv":
      return realm && isId(m.c) && isId(m.q) && isText(m.p) && isMatchPolicy(m.m) && isDict(m.d) &&
        isPayload(m);
    case "int":
      return realm && isId(m.q) && isText(m.mode) && (m.why == null || isText(m.why));
    case "res":
      return realm && isId(m.q) && isDict(m.d) && isPayload(m);
    case "err":
      return realm && isId(m.q) && isText(m.e) && isPayload(m);
    case "kill":
      return realm && isId(m.i) && isText(m.reason) && (m.message == null || isText(m.message));
    case "subq":
      return realm && isId(m.q) && (m.w == null || typeof m.w === "boolean") &&
        (m.u == null ? m.m == null : isText(m.u) && isMatchPolicy(m.m)) && (m.t == null || isText(m.t));
    case "suba":
      return realm && isId(m.q) && Array.isArray(m.s) && m.s.every(isSubInfo);
    default:
      return false;
  }
}

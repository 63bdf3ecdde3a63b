/**
 * The WAMP v2 message layout, shared by every v2 serializer (`wamp.2.json`,
 * `wamp.2.json.batched`, `wamp.2.msgpack`, `wamp.2.cbor`): a parsed array is
 * checked and turned into a client message, and a router message is laid out as
 * the array a serializer then encodes. The serializers differ only in how an array
 * becomes bytes.
 *
 * @module
 */

import { MessageType as T } from "../protocol/constants.ts";
import { isId } from "../protocol/ids.ts";
import type { ClientMessage, Dict, Event, RouterMessage } from "../protocol/messages.ts";
import { hasKeys, isDict, ProtocolError } from "./codec.ts";

/**
 * Checks a parsed v2 message (its arity and every field's type) and returns it as
 * a client message.
 * @throws {ProtocolError} when `msg` is not a well-formed client message.
 */
export function v2ClientMessage(msg: unknown[]): ClientMessage {
  const type = msg[0];
  switch (type) {
    case T.HELLO:
      arity(msg, 3, 3, "HELLO");
      return { type, realm: str(msg[1], "HELLO.Realm"), details: dict(msg[2], "HELLO.Details") };
    case T.ABORT:
    case T.GOODBYE:
      arity(msg, 3, 3, type === T.ABORT ? "ABORT" : "GOODBYE");
      return { type, details: dict(msg[1], "Details"), reason: str(msg[2], "Reason") };
    case T.AUTHENTICATE:
      arity(msg, 3, 3, "AUTHENTICATE");
      return {
        type,
        signature: str(msg[1], "AUTHENTICATE.Signature"),
        extra: dict(msg[2], "AUTHENTICATE.Extra"),
      };
    case T.ERROR: {
      arity(msg, 5, 7, "ERROR");
      const requestType = msg[1];
      if (requestType !== T.INVOCATION) {
        throw new ProtocolError("a client may only send ERROR for an INVOCATION");
      }
      return {
        type,
        requestType,
        request: id(msg[2], "ERROR.Request"),
        details: dict(msg[3], "ERROR.Details"),
        error: str(msg[4], "ERROR.Error"),
        args: args(msg[5]),
        kwargs: kwargs(msg[6]),
      };
    }
    case T.PUBLISH:
      arity(msg, 4, 6, "PUBLISH");
      return {
        type,
        request: id(msg[1], "PUBLISH.Request"),
        options: dict(msg[2], "PUBLISH.Options"),
        topic: str(msg[3], "PUBLISH.Topic"),
        args: args(msg[4]),
        kwargs: kwargs(msg[5]),
      };
    case T.SUBSCRIBE:
      arity(msg, 4, 4, "SUBSCRIBE");
      return {
        type,
        request: id(msg[1], "SUBSCRIBE.Request"),
        options: dict(msg[2], "SUBSCRIBE.Options"),
        topic: str(msg[3], "SUBSCRIBE.Topic"),
      };
    case T.UNSUBSCRIBE:
      arity(msg, 3, 3, "UNSUBSCRIBE");
      return {
        type,
        request: id(msg[1], "UNSUBSCRIBE.Request"),
        subscription: id(msg[2], "UNSUBSCRIBE.Subscription"),
      };
    case T.CALL:
      arity(msg, 4, 6, "CALL");
      return {
        type,
        request: id(msg[1], "CALL.Request"),
        options: dict(msg[2], "CALL.Options"),
        procedure: str(msg[3], "CALL.Procedure"),
        args: args(msg[4]),
        kwargs: kwargs(msg[5]),
      };
    case T.CANCEL:
      arity(msg, 3, 3, "CANCEL");
      return { type, request: id(msg[1], "CANCEL.Request"), options: dict(msg[2], "CANCEL.Options") };
    case T.REGISTER:
      arity(msg, 4, 4, "REGISTER");
      return {
        type,
        request: id(msg[1], "REGISTER.Request"),
        options: dict(msg[2], "REGISTER.Options"),
        procedure: str(msg[3], "REGISTER.Procedure"),
      };
    case T.UNREGISTER:
      arity(msg, 3, 3, "UNREGISTER");
      return {
        type,
        request: id(msg[1], "UNREGISTER.Request"),
        registration: id(msg[2], "UNREGISTER.Registration"),
      };
    case T.YIELD:
      arity(msg, 3, 5, "YIELD");
      return {
        type,
        request: id(msg[1], "YIELD.Request"),
        options: dict(msg[2], "YIELD.Options"),
        args: args(msg[3]),
        kwargs: kwargs(msg[4]),
      };
    default:
      if (typeof type === "number" && KNOWN_ROUTER_TYPES.has(type)) {
        throw new ProtocolError(`message type ${type} is only sent by a router`);
      }
      throw new ProtocolError(`unknown message type ${JSON.stringify(type) ?? "undefined"}`);
  }
}

/** Lays a router message out as its v2 array; every router message has one. */
export function v2RouterArray(m: RouterMessage): unknown[] {
  switch (m.type) {
    case T.WELCOME:
      return [T.WELCOME, m.session, m.details];
    case T.ABORT:
    case T.GOODBYE:
      return [m.type, m.details, m.reason];
    case T.CHALLENGE:
      return [T.CHALLENGE, m.authmethod, m.extra];
    case T.ERROR:
      return withPayload([T.ERROR, m.requestType, m.request, m.details, m.error], m.args, m.kwargs);
    case T.PUBLISHED:
      return [T.PUBLISHED, m.request, m.publication];
    case T.SUBSCRIBED:
      return [T.SUBSCRIBED, m.request, m.subscription];
    case T.UNSUBSCRIBED:
      return [T.UNSUBSCRIBED, m.request];
    case T.EVENT:
      return v2EventArray(m);
    case T.RESULT:
      return withPayload([T.RESULT, m.request, m.details], m.args, m.kwargs);
    case T.REGISTERED:
      return [T.REGISTERED, m.request, m.registration];
    case T.UNREGISTERED:
      return m.details === undefined ? [T.UNREGISTERED, m.request] : [T.UNREGISTERED, m.request, m.details];
    case T.INVOCATION:
      return withPayload([T.INVOCATION, m.request, m.registration, m.details], m.args, m.kwargs);
    case T.INTERRUPT:
      return [T.INTERRUPT, m.request, m.options];
  }
}

/** Lays an EVENT out as its v2 array. */
export function v2EventArray(ev: Event): unknown[] {
  return withPayload([T.EVENT, ev.subscription, ev.publication, ev.details], ev.args, ev.kwargs);
}

const KNOWN_ROUTER_TYPES = new Set<number>([
  T.WELCOME,
  T.CHALLENGE,
  T.PUBLISHED,
  T.SUBSCRIBED,
  T.UNSUBSCRIBED,
  T.EVENT,
  T.RESULT,
  T.REGISTERED,
  T.UNREGISTERED,
  T.INVOCATION,
  T.INTERRUPT,
]);

/** Appends `args` and `kwargs` the way the spec wants: omitted when empty. */
function withPayload(head: unknown[], a: unknown[] | undefined, kw: Dict | undefined): unknown[] {
  if (hasKeys(kw)) head.push(a ?? [], kw);
  else if (a !== undefined && a.length > 0) head.push(a);
  return head;
}

function arity(msg: unknown[], min: number, max: number, name: string): void {
  if (msg.length < min || msg.length > max) {
    throw new ProtocolError(
      min === max
        ? `${name} must have ${min} elements, got ${msg.length}`
        : `${name} must have ${min} to ${max} elements, got ${msg.length}`,
    );
  }
}

function str(value: unknown, field: string): string {
  if (typeof value !== "string") throw new ProtocolError(`${field} must be a string`);
  return value;
}

function id(value: unknown, field: string): number {
  if (!isId(value)) throw new ProtocolError(`${field} must be an integer in 1..2^53`);
  return value;
}

function dict(value: unknown, field: string): Dict {
  if (!isDict(value)) throw new ProtocolError(`${field} must be an object`);
  return value;
}

function args(value: unknown): unknown[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ProtocolError("Arguments must be a list");
  return value;
}

function kwargs(value: unknown): Dict | undefined {
  if (value === undefined) return undefined;
  if (!isDict(value)) throw new ProtocolError("ArgumentsKw must be an object");
  return value;
}

/**
 * WAMP v1 codec (subprotocol `wamp`): the JSON arrays AutobahnJS 0.8 and Ratchet
 * speak, mapped onto the shared message model.
 *
 * Mapping (see README, "One router, two protocols"):
 * - PUBLISH `[7, topic, E, ...]` → Publish with `args: [E]`; excludeMe defaults to
 *   false in v1, so the codec always sets `exclude_me` explicitly.
 * - EVENT: args `[E]` without kwargs → `E`; no payload → `null`; anything else →
 *   `{args, kwargs}`.
 * - RESULT → CALLRESULT: one argument → that value; several, without kwargs → the
 *   array of them; none → `null`; with kwargs → `{args, kwargs}`.
 * - ERROR → CALLERROR `[4, callId, errorUri, desc, details?]`: desc is the error's
 *   first argument when that is a string, else the error URI; details are the
 *   error's kwargs, or its remaining arguments, and are left out when there are none.
 *
 * @module
 */

import { MessageType as T, Subprotocol, V1Type } from "../protocol/constants.ts";
import { isId } from "../protocol/ids.ts";
import type { ClientMessage, Dict, Event, RouterMessage } from "../protocol/messages.ts";
import { type Codec, type Frame, hasKeys, jsonArray, nextCodecSlot, ProtocolError } from "./codec.ts";

/** The server name v1 clients see in WELCOME when the router gives none. */
export const V1_SERVER_IDENT = "Tuerca";

/** The codec for `wamp` (WAMP v1). Stateless: one instance serves every session. */
export class WampV1JsonCodec implements Codec {
  readonly subprotocol: typeof Subprotocol.WAMP1 = Subprotocol.WAMP1;
  readonly slot: number = nextCodecSlot();

  /** Decodes a v1 (`wamp`) frame onto the shared model; see {@link Codec.decode}. */
  decode(frame: Frame): ClientMessage {
    const msg = jsonArray(frame);
    switch (msg[0]) {
      case V1Type.PREFIX:
        exact(msg, 3, "PREFIX");
        return { type: T.V1_PREFIX, prefix: str(msg[1], "PREFIX.prefix"), uri: str(msg[2], "PREFIX.uri") };
      case V1Type.CALL:
        if (msg.length < 3) throw new ProtocolError("CALL needs a call id and a procedure");
        return {
          type: T.CALL,
          request: str(msg[1], "CALL.callID"),
          options: {},
          procedure: str(msg[2], "CALL.procURI"),
          args: msg.slice(3),
        };
      case V1Type.SUBSCRIBE:
        exact(msg, 2, "SUBSCRIBE");
        return { type: T.SUBSCRIBE, request: 0, options: {}, topic: str(msg[1], "SUBSCRIBE.topicURI") };
      case V1Type.UNSUBSCRIBE:
        exact(msg, 2, "UNSUBSCRIBE");
        return {
          type: T.UNSUBSCRIBE,
          request: 0,
          subscription: 0,
          topic: str(msg[1], "UNSUBSCRIBE.topicURI"),
        };
      case V1Type.PUBLISH:
        return decodePublish(msg);
      default:
        throw new ProtocolError(
          `unknown or server-only message type ${JSON.stringify(msg[0]) ?? "undefined"}`,
        );
    }
  }

  /**
   * Encodes a router message as v1 (see the module doc for the mapping); null when v1
   * has no such message (SUBSCRIBED, GOODBYE, an ERROR for anything but a CALL, ...).
   */
  encode(m: RouterMessage): Frame | null {
    switch (m.type) {
      case T.WELCOME: {
        const ident = typeof m.details.agent === "string" ? m.details.agent : V1_SERVER_IDENT;
        return JSON.stringify([V1Type.WELCOME, String(m.session), 1, ident]);
      }
      case T.RESULT:
        return JSON.stringify([V1Type.CALLRESULT, m.request, v1Result(m.args, m.kwargs)]);
      case T.ERROR: {
        if (m.requestType !== T.CALL) return null;
        const first = m.args?.[0];
        const desc = typeof first === "string" ? first : m.error;
        const frame: unknown[] = [V1Type.CALLERROR, m.request, m.error, desc];
        if (hasKeys(m.kwargs)) frame.push(m.kwargs);
        else if (m.args !== undefined && m.args.length > 1) frame.push(m.args.slice(1));
        return JSON.stringify(frame);
      }
      case T.EVENT:
        return this.encodeEvent(m);
      default:
        // SUBSCRIBED, PUBLISHED, GOODBYE, ...: v1 has no such message.
        return null;
    }
  }

  /** Encodes an EVENT as v1 `[8, topic, event]`, once per event; see {@link Codec.encodeEvent}. */
  encodeEvent(ev: Event): Frame {
    const cached = ev.frames[this.slot];
    if (cached !== undefined) return cached;
    const frame = JSON.stringify([V1Type.EVENT, ev.topic, v1Value(ev.args, ev.kwargs)]);
    ev.frames[this.slot] = frame;
    return frame;
  }
}

/** The shared `wamp` (v1) codec. */
export const wampV1Json: WampV1JsonCodec = new WampV1JsonCodec();

/** The single value a v1 CALLRESULT carries for a v2 result. */
function v1Result(args: unknown[] | undefined, kwargs: Dict | undefined): unknown {
  if (!hasKeys(kwargs) && args !== undefined && args.length > 1) return args;
  return v1Value(args, kwargs);
}

/** The single value a v1 EVENT carries for a v2 payload. */
function v1Value(args: unknown[] | undefined, kwargs: Dict | undefined): unknown {
  if (hasKeys(kwargs)) return { args: args ?? [], kwargs };
  if (args === undefined || args.length === 0) return null;
  if (args.length === 1) return args[0];
  return { args };
}

function decodePublish(msg: unknown[]): ClientMessage {
  if (msg.length < 3 || msg.length > 5) throw new ProtocolError("PUBLISH must have 3 to 5 elements");
  const topic = str(msg[1], "PUBLISH.topicURI");
  const options: Dict = { exclude_me: false };
  if (msg.length === 4 && typeof msg[3] === "boolean") {
    options.exclude_me = msg[3];
  } else if (msg.length >= 4) {
    options.exclude = sessionIds(msg[3], "PUBLISH.exclude");
    if (msg.length === 5) options.eligible = sessionIds(msg[4], "PUBLISH.eligible");
  }
  return { type: T.PUBLISH, request: 0, options, topic, args: [msg[2]] };
}

/**
 * v1 names sessions by string. Ids that are not ours are dropped: excluding them
 * excludes nobody, and an eligible list of only such ids reaches nobody.
 */
function sessionIds(value: unknown, field: string): number[] {
  if (!Array.isArray(value)) throw new ProtocolError(`${field} must be a list of session ids`);
  const ids: number[] = [];
  for (const item of value) {
    if (typeof item !== "string") throw new ProtocolError(`${field} must hold strings`);
    const n = /^[0-9]{1,16}$/.test(item) ? Number(item) : 0;
    if (isId(n)) ids.push(n);
  }
  return ids;
}

function exact(msg: unknown[], n: number, name: string): void {
  if (msg.length !== n) throw new ProtocolError(`${name} must have ${n} elements, got ${msg.length}`);
}

function str(value: unknown, field: string): string {
  if (typeof value !== "string") throw new ProtocolError(`${field} must be a string`);
  return value;
}

/**
 * WAMP v2 JSON codec (subprotocol `wamp.2.json`): text frames holding JSON arrays
 * whose first element is the message type code. Binary values travel as strings:
 * `"\u0000"` followed by the bytes in base64 (the spec's rule for JSON), which is
 * also how the router's model holds them, so this codec converts nothing.
 *
 * @module
 */

import { MessageType as T, Subprotocol } from "../protocol/constants.ts";
import type { ClientMessage, Dict, Event, RouterMessage } from "../protocol/messages.ts";
import { type Codec, type Frame, hasKeys, JSON_SLOT, jsonArray, jsonArrayTail } from "./codec.ts";
import { v2ClientMessage, v2EventArray, v2RouterArray } from "./v2_messages.ts";

/** The codec for `wamp.2.json`. Stateless: one instance serves every session (it owns {@link JSON_SLOT}). */
export class WampV2JsonCodec implements Codec {
  readonly subprotocol: typeof Subprotocol.WAMP2_JSON = Subprotocol.WAMP2_JSON;
  readonly slot: number = JSON_SLOT;

  /** Decodes a `wamp.2.json` frame; see {@link Codec.decode}. */
  decode(frame: Frame): ClientMessage {
    const m = v2ClientMessage(jsonArray(frame));
    // A call's arguments and a callee's result go on as the client wrote them (see `tail`),
    // unless encoding would write them otherwise (an empty list or dict is left out).
    if (m.type === T.CALL && normal(m)) m.tail = jsonArrayTail(frame as string, 4);
    else if (m.type === T.YIELD && normal(m)) m.tail = jsonArrayTail(frame as string, 3);
    return m;
  }

  /** Encodes a router message as `wamp.2.json`; every router message has a v2 frame. */
  encode(m: RouterMessage): Frame {
    if (m.type === T.EVENT) return this.encodeEvent(m);
    if (m.type === T.INVOCATION && m.tail !== undefined) {
      return `[${T.INVOCATION},${m.request},${m.registration},${dict(m.details)}${m.tail}`;
    }
    if (m.type === T.RESULT && m.tail !== undefined && typeof m.request === "number") {
      return `[${T.RESULT},${m.request},${dict(m.details)}${m.tail}`;
    }
    return JSON.stringify(v2RouterArray(m));
  }

  /** Encodes an EVENT as `wamp.2.json`, once per event; see {@link Codec.encodeEvent}. */
  encodeEvent(ev: Event): Frame {
    const cached = ev.frames[this.slot];
    if (cached !== undefined) return cached;
    const frame = JSON.stringify(v2EventArray(ev));
    ev.frames[this.slot] = frame;
    return frame;
  }
}

/** A details dict as JSON; most calls and results have none. */
function dict(d: Dict): string {
  return hasKeys(d) ? JSON.stringify(d) : "{}";
}

/** Whether a payload is as the encoder would write it: no empty dict, and no empty list without one. */
function normal(m: { args?: unknown[]; kwargs?: Dict }): boolean {
  return m.kwargs === undefined ? m.args === undefined || m.args.length > 0 : hasKeys(m.kwargs);
}

/** The shared `wamp.2.json` codec. */
export const wampV2Json: WampV2JsonCodec = new WampV2JsonCodec();

/**
 * WAMP v2 batched JSON codec (subprotocol `wamp.2.json.batched`): a text frame
 * holds one or more `wamp.2.json` messages, each followed by the byte 0x18 (ASCII
 * CANCEL), as Autobahn|Python writes them. JSON text never holds a raw 0x18 (the
 * control characters are escaped inside strings), so the frame splits safely.
 *
 * Incoming frames may carry any number of messages; a frame must end with 0x18 and
 * every message in it must be valid, or the whole frame is a protocol violation.
 * Outgoing messages go one to a frame, each still followed by 0x18: a batch of one,
 * which every batched peer reads (the router does not hold messages back to batch
 * them). An EVENT's frame is the `wamp.2.json` one plus the separator, so a publish
 * reaching both kinds of JSON subscribers is stringified once.
 *
 * @module
 */

import { Subprotocol } from "../protocol/constants.ts";
import type { ClientMessage, Event, RouterMessage } from "../protocol/messages.ts";
import { type Codec, type Frame, jsonArray, nextCodecSlot, ProtocolError } from "./codec.ts";
import { wampV2Json } from "./v2_json.ts";
import { v2ClientMessage } from "./v2_messages.ts";

/** The byte after each message of a batch. */
export const BATCH_SEPARATOR = "\u0018";

/** The codec for `wamp.2.json.batched`. Stateless: one instance serves every session. */
export class WampV2JsonBatchedCodec implements Codec {
  readonly subprotocol: typeof Subprotocol.WAMP2_JSON_BATCHED = Subprotocol.WAMP2_JSON_BATCHED;
  readonly slot: number = nextCodecSlot();

  /** Decodes a frame that must hold exactly one message; sessions use {@link decodeBatch}. */
  decode(frame: Frame): ClientMessage {
    const messages = this.decodeBatch(frame);
    if (messages.length !== 1) throw new ProtocolError(`expected one message, got ${messages.length}`);
    return messages[0];
  }

  /** Decodes every message of a batch; see {@link Codec.decodeBatch}. */
  decodeBatch(frame: Frame): ClientMessage[] {
    if (typeof frame !== "string") throw new ProtocolError("binary frame on a JSON transport");
    if (!frame.endsWith(BATCH_SEPARATOR)) {
      throw new ProtocolError("a wamp.2.json.batched frame must end with the byte 0x18");
    }
    const parts = frame.split(BATCH_SEPARATOR);
    parts.pop(); // what follows the last separator: nothing
    return parts.map((part) => v2ClientMessage(jsonArray(part)));
  }

  /** Encodes a router message as a batch of one. */
  encode(m: RouterMessage): Frame {
    return wampV2Json.encode(m) + BATCH_SEPARATOR;
  }

  /** Encodes an EVENT once per event, from the `wamp.2.json` frame; see {@link Codec.encodeEvent}. */
  encodeEvent(ev: Event): Frame {
    const cached = ev.frames[this.slot];
    if (cached !== undefined) return cached;
    const frame = wampV2Json.encodeEvent(ev) + BATCH_SEPARATOR;
    ev.frames[this.slot] = frame;
    return frame;
  }
}

/** The shared `wamp.2.json.batched` codec. */
export const wampV2JsonBatched: WampV2JsonBatchedCodec = new WampV2JsonBatchedCodec();

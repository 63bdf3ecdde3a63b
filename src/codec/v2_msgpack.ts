/**
 * WAMP v2 MessagePack codec (subprotocol `wamp.2.msgpack`): binary frames holding
 * one MessagePack array each, the same arrays as `wamp.2.json`. Byte strings are
 * MessagePack `bin`; the router's model holds them as `"\u0000" + base64` (see
 * `binary.ts`).
 *
 * The library is msgpackr, the fastest correct one measured (see the README). It
 * is used as a plain MessagePack library: no records, no structured clone (its
 * references are refused), the decoder that generates no code; integers beyond
 * 32 bits are handed to it as bigints, so ids go out as integers, not floats.
 *
 * @module
 */

import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack-no-eval";
import { Subprotocol } from "../protocol/constants.ts";
import { type BinaryFormat, BinaryV2Codec } from "./binary.ts";
import { msgpackWriter } from "./binary_writer.ts";

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  int64AsType: "number",
});

/** MessagePack through msgpackr. */
export const msgpackFormat: BinaryFormat = {
  name: "MessagePack",
  decode: (bytes) => unpackr.unpack(bytes),
  encode: (value) => packr.pack(value),
  bigIntegers: true,
  writer: msgpackWriter,
};

/** The shared `wamp.2.msgpack` codec. */
export const wampV2Msgpack: BinaryV2Codec = new BinaryV2Codec(Subprotocol.WAMP2_MSGPACK, msgpackFormat);

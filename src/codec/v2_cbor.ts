/**
 * WAMP v2 CBOR codec (subprotocol `wamp.2.cbor`): binary frames holding one CBOR
 * array each, the same arrays as `wamp.2.json`. Byte strings are CBOR byte
 * strings (major type 2); the router's model holds them as `"\u0000" + base64`
 * (see `binary.ts`).
 *
 * The library is cbor-x, the fastest correct one measured (see the README). It is
 * used as a plain CBOR library: no records, no packed values, byte strings
 * untagged, the decoder that generates no code; integers beyond 32 bits are handed
 * to it as bigints, so ids go out as integers, not floats. What its decoder
 * accepts beyond JSON's values (tags for dates, sets, shared references, ...) the
 * codec refuses as a protocol violation.
 *
 * @module
 */

import { Encoder } from "cbor-x/encode";
import { Decoder } from "cbor-x/decode-no-eval";
import { Subprotocol } from "../protocol/constants.ts";
import { type BinaryFormat, BinaryV2Codec } from "./binary.ts";
import { cborWriter } from "./binary_writer.ts";

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  pack: false,
  tagUint8Array: false,
  variableMapSize: true,
});
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** CBOR through cbor-x. */
export const cborFormat: BinaryFormat = {
  name: "CBOR",
  decode: (bytes) => decoder.decode(bytes),
  encode: (value) => encoder.encode(value),
  bigIntegers: true,
  writer: cborWriter,
};

/** The shared `wamp.2.cbor` codec. */
export const wampV2Cbor: BinaryV2Codec = new BinaryV2Codec(Subprotocol.WAMP2_CBOR, cborFormat);

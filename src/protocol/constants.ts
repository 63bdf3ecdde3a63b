/**
 * WAMP protocol constants: message type codes, error URIs, close reasons and the
 * WebSocket close codes this router uses. Everything the spec names lives here, once.
 *
 * @module
 */

/** WAMP v2 message type codes (the first element of every v2 frame). */
export const MessageType = {
  HELLO: 1,
  WELCOME: 2,
  ABORT: 3,
  CHALLENGE: 4,
  AUTHENTICATE: 5,
  GOODBYE: 6,
  ERROR: 8,
  PUBLISH: 16,
  PUBLISHED: 17,
  SUBSCRIBE: 32,
  SUBSCRIBED: 33,
  UNSUBSCRIBE: 34,
  UNSUBSCRIBED: 35,
  EVENT: 36,
  CALL: 48,
  CANCEL: 49,
  RESULT: 50,
  REGISTER: 64,
  REGISTERED: 65,
  UNREGISTER: 66,
  UNREGISTERED: 67,
  INVOCATION: 68,
  INTERRUPT: 69,
  YIELD: 70,
  /** Not a v2 code: WAMP v1 PREFIX, given a slot in the shared model. */
  V1_PREFIX: 1001,
} as const;

/** WAMP v1 message type ids. */
export const V1Type = {
  WELCOME: 0,
  PREFIX: 1,
  CALL: 2,
  CALLRESULT: 3,
  CALLERROR: 4,
  SUBSCRIBE: 5,
  UNSUBSCRIBE: 6,
  PUBLISH: 7,
  EVENT: 8,
} as const;

/** Error URIs the router itself answers with. */
export const ErrorUri = {
  INVALID_URI: "wamp.error.invalid_uri",
  NO_SUCH_PROCEDURE: "wamp.error.no_such_procedure",
  PROCEDURE_ALREADY_EXISTS: "wamp.error.procedure_already_exists",
  NO_SUCH_REGISTRATION: "wamp.error.no_such_registration",
  NO_SUCH_SUBSCRIPTION: "wamp.error.no_such_subscription",
  INVALID_ARGUMENT: "wamp.error.invalid_argument",
  CANCELED: "wamp.error.canceled",
  /** A call's timeout ran out before the callee answered. */
  TIMEOUT: "wamp.error.timeout",
  /** The meta API names a session that is not in the realm (or the caller's own, for kill). */
  NO_SUCH_SESSION: "wamp.error.no_such_session",
  PAYLOAD_SIZE_EXCEEDED: "wamp.error.payload_size_exceeded",
  NOT_AUTHORIZED: "wamp.error.not_authorized",
  NO_SUCH_REALM: "wamp.error.no_such_realm",
  /** ABORT: no authentication method the client offered is configured. */
  NO_AUTH_METHOD: "wamp.error.no_auth_method",
  /** ABORT (v2) or CALLERROR (v1): a wrong ticket, signature or secret, or an unknown authid. */
  AUTHENTICATION_FAILED: "wamp.error.authentication_failed",
  /** ABORT: the authenticated role is not defined on the realm asked for. */
  NO_SUCH_ROLE: "wamp.error.no_such_role",
  PROTOCOL_VIOLATION: "wamp.error.protocol_violation",
  /** Sent to a caller whose callee failed without an error URI of its own. */
  RUNTIME_ERROR: "wamp.error.runtime_error",
} as const;

/** Error URIs of Tuerca's own limits (outside the spec's `wamp.` space). */
export const TuercaErrorUri = {
  /** A per-session quota (subscriptions, registrations, calls in flight) is reached. */
  QUOTA_EXCEEDED: "tuerca.error.quota_exceeded",
  /** More publishes plus calls per second than the session's rate allows. */
  RATE_LIMITED: "tuerca.error.rate_limited",
} as const;

/** Reasons carried by GOODBYE and ABORT. */
export const CloseReason = {
  NORMAL: "wamp.close.normal",
  SYSTEM_SHUTDOWN: "wamp.close.system_shutdown",
  CLOSE_REALM: "wamp.close.close_realm",
  GOODBYE_AND_OUT: "wamp.close.goodbye_and_out",
} as const;

/** WebSocket close codes (RFC 6455, section 7.4.1) used by the transport and sessions. */
export const WsClose = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** Ratchet's answer to a v1 frame it could not parse; we keep it for v1. */
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
} as const;

/** The WebSocket subprotocol names this router speaks. */
export const Subprotocol = {
  WAMP2_JSON: "wamp.2.json",
  /** JSON messages batched in one text frame, each followed by the byte 0x18. */
  WAMP2_JSON_BATCHED: "wamp.2.json.batched",
  /** MessagePack in binary frames. */
  WAMP2_MSGPACK: "wamp.2.msgpack",
  /** CBOR in binary frames. */
  WAMP2_CBOR: "wamp.2.cbor",
  WAMP1: "wamp",
} as const;

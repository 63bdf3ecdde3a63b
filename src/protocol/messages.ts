/**
 * The internal message model: one shape per WAMP message, shared by both protocol
 * versions. Codecs turn frames into these values and back; sessions and the realm
 * only ever see these.
 *
 * v1 messages are mapped onto their v2 counterparts (v1 CALL is a {@link Call} whose
 * request id is the client's string call id, v1 PUBLISH is a {@link Publish} whose
 * `args` hold the one event, ...). The one message without a v2 counterpart, v1
 * PREFIX, has a type of its own.
 *
 * @module
 */

import { MessageType as T } from "./constants.ts";

/** A JSON object: WAMP's `dict`. */
export type Dict = Record<string, unknown>;

/** A request id: an integer in v2, the client's own string in v1 CALL. */
export type RequestId = number | string;

/** Client → router: open a session on a realm. */
export interface Hello {
  /** Message type: HELLO (1). */
  type: typeof T.HELLO;
  /** HELLO.Realm: the name of the realm to join. */
  realm: string;
  /** HELLO.Details: must announce the client's `roles`; may carry `agent` and more. */
  details: Dict;
}

/** Router → client: the session is open. */
export interface Welcome {
  /** Message type: WELCOME (2). */
  type: typeof T.WELCOME;
  /** WELCOME.Session: the new session's id, 1..2^53. */
  session: number;
  /** WELCOME.Details: realm, auth info, the router's `agent` and `roles` (v1 uses only `agent`). */
  details: Dict;
}

/** Router → client: prove who you are (the authentication method's challenge). */
export interface Challenge {
  /** Message type: CHALLENGE (4). */
  type: typeof T.CHALLENGE;
  /** CHALLENGE.AuthMethod: the method chosen, such as `wampcra`. */
  authmethod: string;
  /** CHALLENGE.Extra: what the method needs signed (`challenge`, and a salt for salted WAMP-CRA). */
  extra: Dict;
}

/** Client → router: the answer to a CHALLENGE. */
export interface Authenticate {
  /** Message type: AUTHENTICATE (5). */
  type: typeof T.AUTHENTICATE;
  /** AUTHENTICATE.Signature: the ticket, or the signature over the challenge. */
  signature: string;
  /** AUTHENTICATE.Extra. */
  extra: Dict;
}

/** Either way: the session is refused or torn down before it was established. */
export interface Abort {
  /** Message type: ABORT (3). */
  type: typeof T.ABORT;
  /** ABORT.Details: usually a readable `message`. */
  details: Dict;
  /** ABORT.Reason: an error or close URI, such as `wamp.error.no_such_realm`. */
  reason: string;
}

/** Either way: close the session. */
export interface Goodbye {
  /** Message type: GOODBYE (6). */
  type: typeof T.GOODBYE;
  /** GOODBYE.Details: may hold a readable `message`. */
  details: Dict;
  /** GOODBYE.Reason: a close URI, such as `wamp.close.goodbye_and_out`. */
  reason: string;
}

/** Either way: a request failed (router → caller/publisher/..., or callee → router). */
export interface ErrorMessage {
  /** Message type: ERROR (8). */
  type: typeof T.ERROR;
  /** ERROR.REQUEST.Type: the type code of the failed request, such as CALL (48) or INVOCATION (68). */
  requestType: number;
  /** ERROR.REQUEST.Request: the failed request's id (a v1 call id is a string). */
  request: RequestId;
  /** ERROR.Details; the router's own errors leave it empty. */
  details: Dict;
  /** ERROR.Error: the error URI. */
  error: string;
  /** ERROR.Arguments: positional payload; by convention the first is a readable description. */
  args?: unknown[];
  /** ERROR.ArgumentsKw: keyword payload. */
  kwargs?: Dict;
}

/** Client → router: publish an event. */
export interface Publish {
  /** Message type: PUBLISH (16). */
  type: typeof T.PUBLISH;
  /** PUBLISH.Request id, 1..2^53; 0 for v1, which has none. */
  request: number;
  /** PUBLISH.Options: `acknowledge`, `exclude_me`, `disclose_me`, black- and whitelists. */
  options: Dict;
  /** PUBLISH.Topic: the topic URI (for v1, possibly a CURIE the session resolves). */
  topic: string;
  /** PUBLISH.Arguments: positional payload. */
  args?: unknown[];
  /** PUBLISH.ArgumentsKw: keyword payload. */
  kwargs?: Dict;
}

/** Router → publisher: the publish was accepted (only when it asked `acknowledge`). */
export interface Published {
  /** Message type: PUBLISHED (17). */
  type: typeof T.PUBLISHED;
  /** PUBLISHED.PUBLISH.Request: the id of the acknowledged PUBLISH. */
  request: number;
  /** PUBLISHED.Publication: the publication id, 1..2^53. */
  publication: number;
}

/** Client → router: subscribe to a topic. */
export interface Subscribe {
  /** Message type: SUBSCRIBE (32). */
  type: typeof T.SUBSCRIBE;
  /** SUBSCRIBE.Request id, 1..2^53; 0 for v1, which has none. */
  request: number;
  /** SUBSCRIBE.Options: `match` (`exact`, `prefix`, `wildcard`). */
  options: Dict;
  /** SUBSCRIBE.Topic: the topic URI (for v1, possibly a CURIE the session resolves). */
  topic: string;
}

/** Router → subscriber: the subscription is in place. */
export interface Subscribed {
  /** Message type: SUBSCRIBED (33). */
  type: typeof T.SUBSCRIBED;
  /** SUBSCRIBED.SUBSCRIBE.Request: the id of the SUBSCRIBE answered. */
  request: number;
  /** SUBSCRIBED.Subscription: the subscription id, 1..2^53, shared by all subscribers of the topic and match. */
  subscription: number;
}

/**
 * Client → router: end a subscription. v2 names the subscription id; v1 names the
 * topic instead (then `subscription` is 0 and `topic` is set).
 */
export interface Unsubscribe {
  /** Message type: UNSUBSCRIBE (34). */
  type: typeof T.UNSUBSCRIBE;
  /** UNSUBSCRIBE.Request id, 1..2^53; 0 for v1. */
  request: number;
  /** UNSUBSCRIBE.Subscription: the subscription id to end; 0 for v1. */
  subscription: number;
  /** v1 only: the topic URI (or CURIE) to unsubscribe from. */
  topic?: string;
}

/** Router → subscriber: the subscription is gone. */
export interface Unsubscribed {
  /** Message type: UNSUBSCRIBED (35). */
  type: typeof T.UNSUBSCRIBED;
  /** UNSUBSCRIBED.UNSUBSCRIBE.Request: the id of the UNSUBSCRIBE answered. */
  request: number;
}

/**
 * Router → subscriber: an event. The broker builds one per publish and subscription
 * and hands the same object to every subscriber, so `frames` can hold each codec's
 * encoding once (see {@link Codec.encodeEvent}).
 */
export interface Event {
  /** Message type: EVENT (36). */
  type: typeof T.EVENT;
  /** EVENT.Subscription: the subscription id the event is delivered on. */
  subscription: number;
  /** EVENT.Publication: the publication id, 1..2^53. */
  publication: number;
  /** EVENT.Details: `publisher` (a session id) when the publisher disclosed itself; `topic` on pattern subscriptions. */
  details: Dict;
  /** EVENT.Arguments: positional payload. */
  args?: unknown[];
  /** EVENT.ArgumentsKw: keyword payload. */
  kwargs?: Dict;
  /** The topic published to; v1 EVENT carries it, v2 EVENT does not. */
  topic: string;
  /** Frames already encoded for this event, indexed by codec slot. */
  frames: (string | Uint8Array | undefined)[];
}

/** Client → router: call a procedure. */
export interface Call {
  /** Message type: CALL (48). */
  type: typeof T.CALL;
  /** CALL.Request id: 1..2^53 in v2; the client's own string call id in v1. */
  request: RequestId;
  /** CALL.Options: `receive_progress`, `disclose_me`, `timeout` (always empty for v1). */
  options: Dict;
  /** CALL.Procedure: the procedure URI (for v1, possibly a CURIE the session resolves). */
  procedure: string;
  /** CALL.Arguments: positional arguments. */
  args?: unknown[];
  /** CALL.ArgumentsKw: keyword arguments. */
  kwargs?: Dict;
  /**
   * The payload as the client's own JSON text, from the end of the previous element
   * to the end of the frame (`,[…],{…}]`, or `]` without a payload): set by the
   * `wamp.2.json` codec so that a message to another `wamp.2.json` peer carries it
   * out without encoding it again. Always the same payload as `args` and `kwargs`.
   */
  tail?: string;
}

/** Caller → router: cancel a call in flight. */
export interface Cancel {
  /** Message type: CANCEL (49). */
  type: typeof T.CANCEL;
  /** CANCEL.CALL.Request: the request id of the call to cancel. */
  request: number;
  /** CANCEL.Options: `mode` is `skip`, `kill` or `killnowait` (anything else). */
  options: Dict;
}

/** Router → caller: the call's result. */
export interface Result {
  /** Message type: RESULT (50). */
  type: typeof T.RESULT;
  /** RESULT.CALL.Request: the call's request id (a string for v1). */
  request: RequestId;
  /** RESULT.Details: `progress: true` for a progressive result. */
  details: Dict;
  /** RESULT.Arguments: positional result. */
  args?: unknown[];
  /** RESULT.ArgumentsKw: keyword result. */
  kwargs?: Dict;
  /**
   * The payload as the client's own JSON text, from the end of the previous element
   * to the end of the frame (`,[…],{…}]`, or `]` without a payload): set by the
   * `wamp.2.json` codec so that a message to another `wamp.2.json` peer carries it
   * out without encoding it again. Always the same payload as `args` and `kwargs`.
   */
  tail?: string;
}

/** Callee → router: offer a procedure. */
export interface Register {
  /** Message type: REGISTER (64). */
  type: typeof T.REGISTER;
  /** REGISTER.Request id, 1..2^53. */
  request: number;
  /** REGISTER.Options: `match` (`exact`, `prefix`, `wildcard`) and `invoke` (`single`, `roundrobin`, `random`, `first`, `last`). */
  options: Dict;
  /** REGISTER.Procedure: the procedure URI. */
  procedure: string;
}

/** Router → callee: the registration is in place. */
export interface Registered {
  /** Message type: REGISTERED (65). */
  type: typeof T.REGISTERED;
  /** REGISTERED.REGISTER.Request: the id of the REGISTER answered. */
  request: number;
  /** REGISTERED.Registration: the registration id, 1..2^53. */
  registration: number;
}

/** Callee → router: withdraw a procedure. */
export interface Unregister {
  /** Message type: UNREGISTER (66). */
  type: typeof T.UNREGISTER;
  /** UNREGISTER.Request id, 1..2^53. */
  request: number;
  /** UNREGISTER.Registration: the registration id to withdraw. */
  registration: number;
}

/** Router → callee: the registration is gone. */
export interface Unregistered {
  /** Message type: UNREGISTERED (67). */
  type: typeof T.UNREGISTERED;
  /** UNREGISTERED.UNREGISTER.Request: the id of the UNREGISTER answered; 0 when the router revokes. */
  request: number;
  /** Set when the router revokes the registration (registration revocation): `registration`, `reason`. */
  details?: Dict;
}

/** Router → callee: run the procedure. */
export interface Invocation {
  /** Message type: INVOCATION (68). */
  type: typeof T.INVOCATION;
  /** INVOCATION.Request: the invocation id, 1..2^53, that the callee's YIELD or ERROR names. */
  request: number;
  /** INVOCATION.REGISTERED.Registration: the registration being invoked. */
  registration: number;
  /** INVOCATION.Details: `caller` (a session id) when disclosed, `receive_progress` when asked, `procedure` for pattern registrations. */
  details: Dict;
  /** INVOCATION.Arguments: the call's positional arguments. */
  args?: unknown[];
  /** INVOCATION.ArgumentsKw: the call's keyword arguments. */
  kwargs?: Dict;
  /**
   * The payload as the client's own JSON text, from the end of the previous element
   * to the end of the frame (`,[…],{…}]`, or `]` without a payload): set by the
   * `wamp.2.json` codec so that a message to another `wamp.2.json` peer carries it
   * out without encoding it again. Always the same payload as `args` and `kwargs`.
   */
  tail?: string;
}

/** Router → callee: the caller canceled the call. */
export interface Interrupt {
  /** Message type: INTERRUPT (69). */
  type: typeof T.INTERRUPT;
  /** INTERRUPT.INVOCATION.Request: the invocation id being canceled. */
  request: number;
  /** INTERRUPT.Options: the cancel `mode`, and sometimes a `reason` URI. */
  options: Dict;
}

/** Callee → router: the invocation's result. */
export interface Yield {
  /** Message type: YIELD (70). */
  type: typeof T.YIELD;
  /** YIELD.INVOCATION.Request: the invocation id answered. */
  request: number;
  /** YIELD.Options: `progress: true` for a progressive result. */
  options: Dict;
  /** YIELD.Arguments: positional result. */
  args?: unknown[];
  /** YIELD.ArgumentsKw: keyword result. */
  kwargs?: Dict;
  /**
   * The payload as the client's own JSON text, from the end of the previous element
   * to the end of the frame (`,[…],{…}]`, or `]` without a payload): set by the
   * `wamp.2.json` codec so that a message to another `wamp.2.json` peer carries it
   * out without encoding it again. Always the same payload as `args` and `kwargs`.
   */
  tail?: string;
}

/** v1 client → router: define a CURIE prefix for this connection. */
export interface Prefix {
  /** Message type: not a v2 code; the model's slot for v1 PREFIX (1001). */
  type: typeof T.V1_PREFIX;
  /** The CURIE prefix being defined, such as `calc`. */
  prefix: string;
  /** The URI the prefix stands for; a CURIE `prefix:rest` expands to `uri + rest`. */
  uri: string;
}

/** Any message of the model. */
export type Message =
  | Hello
  | Welcome
  | Abort
  | Challenge
  | Authenticate
  | Goodbye
  | ErrorMessage
  | Publish
  | Published
  | Subscribe
  | Subscribed
  | Unsubscribe
  | Unsubscribed
  | Event
  | Call
  | Cancel
  | Result
  | Register
  | Registered
  | Unregister
  | Unregistered
  | Invocation
  | Interrupt
  | Yield
  | Prefix;

/** The messages a client may send to the router. */
export type ClientMessage =
  | Hello
  | Abort
  | Authenticate
  | Goodbye
  | ErrorMessage
  | Publish
  | Subscribe
  | Unsubscribe
  | Call
  | Cancel
  | Register
  | Unregister
  | Yield
  | Prefix;

/** The messages the router sends to clients. */
export type RouterMessage = Exclude<Message, ClientMessage> | Abort | Goodbye | ErrorMessage;

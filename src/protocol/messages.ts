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
  type: typeof T.HELLO;
  realm: string;
  details: Dict;
}

/** Router → client: the session is open. */
export interface Welcome {
  type: typeof T.WELCOME;
  session: number;
  details: Dict;
}

/** Either way: the session is refused or torn down before it was established. */
export interface Abort {
  type: typeof T.ABORT;
  details: Dict;
  reason: string;
}

/** Either way: close the session. */
export interface Goodbye {
  type: typeof T.GOODBYE;
  details: Dict;
  reason: string;
}

/** Either way: a request failed (router → caller/publisher/..., or callee → router). */
export interface ErrorMessage {
  type: typeof T.ERROR;
  requestType: number;
  request: RequestId;
  details: Dict;
  error: string;
  args?: unknown[];
  kwargs?: Dict;
}

/** Client → router: publish an event. */
export interface Publish {
  type: typeof T.PUBLISH;
  request: number;
  options: Dict;
  topic: string;
  args?: unknown[];
  kwargs?: Dict;
}

/** Router → publisher: the publish was accepted (only when it asked `acknowledge`). */
export interface Published {
  type: typeof T.PUBLISHED;
  request: number;
  publication: number;
}

/** Client → router: subscribe to a topic. */
export interface Subscribe {
  type: typeof T.SUBSCRIBE;
  request: number;
  options: Dict;
  topic: string;
}

/** Router → subscriber: the subscription is in place. */
export interface Subscribed {
  type: typeof T.SUBSCRIBED;
  request: number;
  subscription: number;
}

/**
 * Client → router: end a subscription. v2 names the subscription id; v1 names the
 * topic instead (then `subscription` is 0 and `topic` is set).
 */
export interface Unsubscribe {
  type: typeof T.UNSUBSCRIBE;
  request: number;
  subscription: number;
  topic?: string;
}

/** Router → subscriber: the subscription is gone. */
export interface Unsubscribed {
  type: typeof T.UNSUBSCRIBED;
  request: number;
}

/**
 * Router → subscriber: an event. The broker builds one per publish and subscription
 * and hands the same object to every subscriber, so `frames` can hold each codec's
 * encoding once (see {@link Codec.encodeEvent}).
 */
export interface Event {
  type: typeof T.EVENT;
  subscription: number;
  publication: number;
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
  /** The topic published to; v1 EVENT carries it, v2 EVENT does not. */
  topic: string;
  /** Frames already encoded for this event, indexed by codec slot. */
  frames: (string | Uint8Array | undefined)[];
}

/** Client → router: call a procedure. */
export interface Call {
  type: typeof T.CALL;
  request: RequestId;
  options: Dict;
  procedure: string;
  args?: unknown[];
  kwargs?: Dict;
}

/** Caller → router: cancel a call in flight. */
export interface Cancel {
  type: typeof T.CANCEL;
  request: number;
  options: Dict;
}

/** Router → caller: the call's result. */
export interface Result {
  type: typeof T.RESULT;
  request: RequestId;
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

/** Callee → router: offer a procedure. */
export interface Register {
  type: typeof T.REGISTER;
  request: number;
  options: Dict;
  procedure: string;
}

/** Router → callee: the registration is in place. */
export interface Registered {
  type: typeof T.REGISTERED;
  request: number;
  registration: number;
}

/** Callee → router: withdraw a procedure. */
export interface Unregister {
  type: typeof T.UNREGISTER;
  request: number;
  registration: number;
}

/** Router → callee: the registration is gone. */
export interface Unregistered {
  type: typeof T.UNREGISTERED;
  request: number;
}

/** Router → callee: run the procedure. */
export interface Invocation {
  type: typeof T.INVOCATION;
  request: number;
  registration: number;
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

/** Router → callee: the caller canceled the call. */
export interface Interrupt {
  type: typeof T.INTERRUPT;
  request: number;
  options: Dict;
}

/** Callee → router: the invocation's result. */
export interface Yield {
  type: typeof T.YIELD;
  request: number;
  options: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

/** v1 client → router: define a CURIE prefix for this connection. */
export interface Prefix {
  type: typeof T.V1_PREFIX;
  prefix: string;
  uri: string;
}

/** Any message of the model. */
export type Message =
  | Hello
  | Welcome
  | Abort
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

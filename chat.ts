/**
 * The chat app: what one tab types, every other tab shows.
 *
 * Two kinds of client take part in one conversation:
 * - WAMP tabs (the chat page) publish `{nick, text, ts}` to `chat.messages`.
 * - Plain WebSocket clients (no subprotocol; the tutorial's chat page) send raw
 *   text. It goes, unchanged, to every other plain client (as the tutorial's server
 *   did) and to the WAMP tabs as `{nick: "anonymous", text, ts}`. WAMP messages
 *   reach plain clients as the text `nick: text`.
 *
 * Who is online (`chat.presence`, see the README): each tab publishes `{nick}`
 * with `disclose_me` when it opens and when its nickname changes, asks the
 * others with `{nick, hello: true}` when it opens (they answer it alone with
 * `{nick, answer: true}` and `eligible`), and drops a session when `wamp.session.on_leave` names it. Each
 * plain client takes part through an in-process session of its own, as
 * "anonymous", so the meta API and every tab see it come and go like a tab.
 *
 * Run: `deno task chat` (options: `--help`).
 *
 * @module
 */

import { type App, LocalSession, type Peer, type Router, runCli, type WireSession } from "./main.ts";
import { exceedsSize, isDict } from "./src/codec/codec.ts";
import { WsClose } from "./src/protocol/constants.ts";

/** The topic chat messages travel on. */
export const CHAT_TOPIC = "chat.messages";

/** The topic tabs announce their nicknames on. */
export const PRESENCE_TOPIC = "chat.presence";

/** The nickname plain WebSocket clients appear under. */
export const ANONYMOUS = "anonymous";

/** The chat app. */
export const chatApp: App = {
  name: "chat",
  index: "index_chat.html",
  // The page shows the last messages when it opens, and what it missed while away.
  history: [{ uri: CHAT_TOPIC, match: "exact", limit: 100, maxBytes: 0, maxAge: 0 }],
  start(router: Router) {
    const relay = new PlainRelay(router);
    return { plain: (peer: Peer) => relay.connect(peer), close: () => relay.close() };
  },
};

/** Joins plain WebSocket clients to the WAMP chat topic. */
class PlainRelay {
  readonly #local: LocalSession;
  readonly #clients = new Set<PlainClient>();

  constructor(private readonly router: Router) {
    this.#local = new LocalSession(router);
    this.#local.subscribe(CHAT_TOPIC, ([message]) => {
      const line = toLine(message);
      if (line !== null) { for (const c of this.#clients) c.peer.send(line); }
    });
  }

  connect(peer: Peer): WireSession {
    return new PlainClient(peer, this);
  }

  /**
   * A plain client's presence: an in-process session of its own that says
   * "anonymous" is here and answers newcomers' hellos; closing it is the leave.
   */
  present(c: PlainClient): LocalSession {
    const presence = new LocalSession(this.router, undefined, undefined, {
      authid: ANONYMOUS,
      authrole: ANONYMOUS,
    });
    presence.onKill = () => c.peer.close(WsClose.NORMAL, "killed");
    presence.subscribe(PRESENCE_TOPIC, ([payload], _kwargs, details) => {
      if (isDict(payload) && payload.hello === true && details.publisher !== undefined) {
        presence.publish(PRESENCE_TOPIC, [{ nick: ANONYMOUS, answer: true }], undefined, {
          disclose: true,
          eligible: [details.publisher],
        });
      }
    });
    presence.publish(PRESENCE_TOPIC, [{ nick: ANONYMOUS }], undefined, { disclose: true });
    return presence;
  }

  add(c: PlainClient): void {
    this.#clients.add(c);
  }

  remove(c: PlainClient): void {
    this.#clients.delete(c);
  }

  /** Text from a plain client: raw to the other plain clients, as a message to the tabs. */
  said(from: PlainClient, text: string): void {
    for (const c of this.#clients) if (c !== from) c.peer.send(text);
    this.#local.publish(CHAT_TOPIC, [{ nick: ANONYMOUS, text, ts: Date.now() }]);
  }

  get maxMessageSize(): number {
    return this.router.maxMessageSize;
  }

  close(): void {
    for (const c of this.#clients) c.peer.close(WsClose.GOING_AWAY, "server shutdown");
    this.#clients.clear();
    this.#local.close();
  }
}

/** One plain (no subprotocol) WebSocket client. */
class PlainClient implements WireSession {
  #presence: LocalSession | null = null;

  constructor(readonly peer: Peer, private readonly relay: PlainRelay) {}

  open(): void {
    this.relay.add(this);
    this.#presence = this.relay.present(this);
  }

  receive(frame: string | Uint8Array): void {
    if (typeof frame !== "string") {
      this.peer.close(1003, "text messages only");
      return;
    }
    if (exceedsSize(frame, this.relay.maxMessageSize)) {
      this.peer.close(WsClose.MESSAGE_TOO_BIG, "message too big");
      return;
    }
    if (frame.length > 0) this.relay.said(this, frame);
  }

  closed(): void {
    this.relay.remove(this);
    this.#presence?.close();
    this.#presence = null;
  }
}

/** How a WAMP chat message reads for a plain client; null for payloads that are not chat. */
function toLine(message: unknown): string | null {
  if (typeof message === "string") return message;
  if (!isDict(message) || typeof message.text !== "string") return null;
  const nick = typeof message.nick === "string" && message.nick.trim() !== "" ? message.nick : ANONYMOUS;
  return `${nick}: ${message.text}`;
}

if (import.meta.main) await runCli(chatApp);

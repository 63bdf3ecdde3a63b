// Tuerca chat page: nickname + messages exchanged over a WAMP topic.
// Plain browser script; expects the globals `autobahn` (/vendor/autobahn.min.js)
// and `Tuerca` (common.js), which holds everything shared with the push page.
"use strict";

(() => {
  const Tuerca = globalThis.Tuerca;

  const TOPIC = "chat.messages";
  const NICK_KEY = "tuerca.nick";
  const NICK_MAX = 32;

  const nickInput = Tuerca.byId("nick");
  let nick = ""; // last non-empty nickname, used when sending

  // ---------- nickname ----------

  // Storage can throw (disabled cookies, some private modes); the nick still works per tab.
  function loadNick() {
    try {
      return localStorage.getItem(NICK_KEY) || "";
    } catch {
      return "";
    }
  }

  function saveNick(value) {
    try {
      localStorage.setItem(NICK_KEY, value);
    } catch {
      // ignored on purpose, see loadNick
    }
  }

  function randomNick() {
    return "guest-" + String(Math.floor(1000 + Math.random() * 9000));
  }

  function initNick() {
    const stored = loadNick().trim().slice(0, NICK_MAX);
    nick = stored || randomNick();
    if (!stored) saveNick(nick);
    nickInput.value = nick;

    nickInput.addEventListener("input", () => {
      const value = nickInput.value.trim().slice(0, NICK_MAX);
      if (value === "") return; // keep the previous nick while the field is being retyped
      nick = value;
      saveNick(nick);
    });
    nickInput.addEventListener("change", () => {
      if (nickInput.value.trim() === "") nickInput.value = nick;
    });
  }

  // ---------- messages ----------

  // Sender timestamp when it is a usable number, otherwise the arrival time.
  function toDate(ts) {
    const date = new Date(ts);
    return typeof ts === "number" && !Number.isNaN(date.getTime()) ? date : new Date();
  }

  function readChatEvent(payload) {
    if (!Tuerca.isPlainObject(payload)) {
      const text = typeof payload === "string" ? payload : Tuerca.stringify(payload);
      return { sender: "anonymous", text, time: new Date() };
    }
    const sender = typeof payload.nick === "string" && payload.nick.trim() !== ""
      ? payload.nick.trim()
      : "anonymous";
    const text = typeof payload.text === "string" ? payload.text : Tuerca.stringify(payload.text);
    return { sender, text, time: toDate(payload.ts) };
  }

  function outgoing(text) {
    const message = { nick, text, ts: Date.now() };
    return { payload: message, entry: { sender: message.nick, text, time: new Date(message.ts) } };
  }

  const feed = Tuerca.topicFeed({
    topic: TOPIC,
    ids: {
      list: "chat-messages",
      empty: "chat-empty",
      jump: "chat-jump",
      form: "chat-form",
      input: "chat-input",
      send: "chat-send",
      error: "chat-error",
    },
    readEvent: readChatEvent,
    outgoing,
  });

  // ---------- wiring ----------

  initNick();
  feed.open();
})();

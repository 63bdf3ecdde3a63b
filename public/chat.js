// Tuerca chat page: nickname + messages exchanged over a WAMP topic.
// Plain browser script; expects the global `autobahn` from /vendor/autobahn.min.js.
"use strict";

(() => {
  const TOPIC = "chat.messages";
  const NICK_KEY = "tuerca.nick";
  const NICK_MAX = 32;
  const MAX_MESSAGES = 500;
  const NEAR_BOTTOM_PX = 32;

  const byId = (id) => document.getElementById(id);
  const ui = {
    status: byId("status"),
    nick: byId("nick"),
    list: byId("chat-messages"),
    empty: byId("chat-empty"),
    jump: byId("chat-jump"),
    form: byId("chat-form"),
    input: byId("chat-input"),
    send: byId("chat-send"),
    error: byId("chat-error"),
  };

  let session = null; // the open autobahn session, or null while offline
  let pendingPublish = null; // token of the publish awaiting its acknowledgement
  let nick = ""; // last non-empty nickname, used when sending

  // ---------- small helpers ----------

  function pad2(n) {
    return String(n).padStart(2, "0");
  }

  function formatClock(date) {
    return pad2(date.getHours()) + ":" + pad2(date.getMinutes());
  }

  // Sender timestamp when it is a usable number, otherwise the arrival time.
  function toDate(ts) {
    const date = new Date(ts);
    return typeof ts === "number" && !Number.isNaN(date.getTime()) ? date : new Date();
  }

  function isPlainObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
  }

  function stringify(value) {
    if (value === undefined) return "";
    try {
      const json = JSON.stringify(value);
      return json === undefined ? String(value) : json;
    } catch {
      return String(value); // cyclic or otherwise unserialisable
    }
  }

  // Readable text for autobahn.Error (URI + args), JS errors and thrown strings.
  function describeError(err) {
    if (err instanceof autobahn.Error) {
      const first = err.args && err.args[0];
      if (typeof first === "string" && first !== "") return first;
      if (first !== undefined) return stringify(first);
      return err.error;
    }
    if (err instanceof Error) return err.message;
    return String(err);
  }

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
    ui.nick.value = nick;

    ui.nick.addEventListener("input", () => {
      const value = ui.nick.value.trim().slice(0, NICK_MAX);
      if (value === "") return; // keep the previous nick while the field is being retyped
      nick = value;
      saveNick(nick);
    });
    ui.nick.addEventListener("change", () => {
      if (ui.nick.value.trim() === "") ui.nick.value = nick;
    });
  }

  // ---------- connection badge ----------

  let countdownTimer = null;

  function setStatus(state, text, title) {
    ui.status.dataset.state = state;
    ui.status.textContent = text || state;
    ui.status.title = title || "";
  }

  function stopCountdown() {
    clearInterval(countdownTimer);
    countdownTimer = null;
  }

  // autobahn waits `seconds` before its next attempt; show it ticking down.
  function startCountdown(seconds) {
    stopCountdown();
    const deadline = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      if (left <= 0) {
        stopCountdown();
        setStatus("connecting");
        return;
      }
      setStatus("reconnecting", "reconnecting in " + left + "s");
    };
    tick();
    countdownTimer = setInterval(tick, 250);
  }

  function refreshControls() {
    ui.send.disabled = !session || pendingPublish !== null;
  }

  // ---------- message list ----------

  let followNewest = true; // false once the user scrolls up to read history

  function isNearBottom() {
    const list = ui.list;
    return list.scrollHeight - list.scrollTop - list.clientHeight <= NEAR_BOTTOM_PX;
  }

  function scrollToNewest() {
    ui.list.scrollTop = ui.list.scrollHeight;
    ui.jump.hidden = true;
  }

  // Drop the oldest entries; keep the visible ones in place if the user scrolled up.
  function trimList() {
    const list = ui.list;
    if (list.children.length <= MAX_MESSAGES) return;
    const before = list.scrollHeight;
    while (list.children.length > MAX_MESSAGES) list.firstElementChild.remove();
    if (!followNewest) list.scrollTop -= before - list.scrollHeight;
  }

  function buildMessage({ time, sender, text, mine }) {
    const li = document.createElement("li");
    li.className = mine ? "msg mine" : "msg";

    const timeEl = document.createElement("time");
    timeEl.className = "time";
    timeEl.dateTime = time.toISOString();
    timeEl.textContent = formatClock(time);

    const senderEl = document.createElement("span");
    senderEl.className = "sender";
    senderEl.textContent = sender;

    const textEl = document.createElement("span");
    textEl.className = "text";
    textEl.textContent = text;

    li.append(timeEl, senderEl, textEl);
    return li;
  }

  function addMessage(entry) {
    ui.list.append(buildMessage(entry));
    ui.empty.hidden = true;
    trimList();
    if (followNewest) scrollToNewest();
    else ui.jump.hidden = false;
  }

  // ---------- incoming events ----------

  function readChatEvent(payload) {
    if (!isPlainObject(payload)) {
      const text = typeof payload === "string" ? payload : stringify(payload);
      return { sender: "anonymous", text, time: new Date() };
    }
    const sender = typeof payload.nick === "string" && payload.nick.trim() !== ""
      ? payload.nick.trim()
      : "anonymous";
    const text = typeof payload.text === "string" ? payload.text : stringify(payload.text);
    return { sender, text, time: toDate(payload.ts) };
  }

  function onChatEvent(args) {
    const payload = Array.isArray(args) ? args[0] : undefined;
    addMessage({ ...readChatEvent(payload), mine: false });
  }

  // ---------- sending ----------

  function showError(text) {
    ui.error.textContent = text;
    ui.error.hidden = false;
  }

  function clearError() {
    ui.error.hidden = true;
    ui.error.textContent = "";
  }

  async function onChatSubmit(event) {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (text === "" || !session || pendingPublish !== null) return;

    const token = {};
    pendingPublish = token;
    refreshControls();
    clearError();
    const message = { nick, text, ts: Date.now() };
    try {
      await session.publish(TOPIC, [message], {}, { acknowledge: true });
      // The router does not echo our own event back, so show it here.
      addMessage({ sender: message.nick, text, time: new Date(message.ts), mine: true });
      if (ui.input.value.trim() === text) ui.input.value = "";
      ui.input.focus();
    } catch (err) {
      showError("Not sent: " + describeError(err));
    } finally {
      if (pendingPublish === token) pendingPublish = null;
      refreshControls();
    }
  }

  // ---------- connection ----------

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + "/ws";
  }

  function onOpen(newSession) {
    session = newSession;
    stopCountdown();
    setStatus("connected");
    refreshControls();
    // Each reconnect brings a fresh session, so subscribe again every time.
    newSession.subscribe(TOPIC, onChatEvent).catch((err) => {
      if (session === newSession) showError("Could not subscribe: " + describeError(err));
    });
  }

  function onClose(reason, details) {
    session = null;
    // autobahn never settles requests of a dead session; free the button ourselves.
    pendingPublish = null;
    refreshControls();
    if (details && details.will_retry) {
      startCountdown(details.retry_delay);
    } else {
      stopCountdown();
      const why = (details && (details.message || details.reason)) || reason || "";
      setStatus("disconnected", "disconnected", why ? "Reload the page to retry (" + why + ")" : "");
    }
  }

  function connect() {
    if (typeof autobahn === "undefined") {
      setStatus("disconnected", "disconnected", "/vendor/autobahn.min.js did not load");
      return;
    }
    const connection = new autobahn.Connection({
      url: socketUrl(),
      realm: "realm1",
      protocols: ["wamp.2.json"],
      use_es6_promises: true,
      max_retries: -1,
      initial_retry_delay: 1,
      max_retry_delay: 15,
      retry_delay_growth: 1.5,
    });
    connection.onopen = onOpen;
    connection.onclose = onClose;
    setStatus("connecting");
    connection.open();
  }

  // ---------- wiring ----------

  ui.list.addEventListener(
    "scroll",
    () => {
      followNewest = isNearBottom();
      if (followNewest) ui.jump.hidden = true;
    },
    { passive: true },
  );
  ui.jump.addEventListener("click", () => {
    followNewest = true;
    scrollToNewest();
  });
  globalThis.addEventListener("resize", () => {
    if (followNewest) scrollToNewest();
  });
  ui.form.addEventListener("submit", onChatSubmit);

  initNick();
  refreshControls();
  connect();
})();

// Tuerca push page: live messages on a WAMP topic plus a remote area calculator.
// Plain browser script; expects the global `autobahn` from /vendor/autobahn.min.js.
"use strict";

(() => {
  const TOPIC = "push.tutorial.messages";
  const AREA_PROCEDURE = "push.tutorial.areaCuadrado";
  const MAX_MESSAGES = 500;
  const NEAR_BOTTOM_PX = 32;

  const byId = (id) => document.getElementById(id);
  const ui = {
    status: byId("status"),
    list: byId("messages"),
    empty: byId("empty"),
    jump: byId("jump"),
    form: byId("publish-form"),
    input: byId("message"),
    send: byId("send"),
    publishError: byId("publish-error"),
    areaForm: byId("area-form"),
    height: byId("height"),
    width: byId("width"),
    calc: byId("calc"),
    areaResult: byId("area-result"),
  };

  let session = null; // the open autobahn session, or null while offline
  let pendingPublish = null; // token of the publish awaiting its acknowledgement
  let pendingCall = null; // token of the area call awaiting its result

  // ---------- small helpers ----------

  function pad2(n) {
    return String(n).padStart(2, "0");
  }

  function formatClock(date) {
    return pad2(date.getHours()) + ":" + pad2(date.getMinutes());
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
    ui.calc.disabled = !session || pendingCall !== null;
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

  function buildMessage({ time, sender, text, mine, source }) {
    const li = document.createElement("li");
    li.className = mine ? "msg mine" : "msg";
    li.dataset.source = source;

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
    ui.list.append(buildMessage({ time: new Date(), ...entry }));
    ui.empty.hidden = true;
    trimList();
    if (followNewest) scrollToNewest();
    else ui.jump.hidden = false;
  }

  // ---------- incoming events ----------

  // Bridged RabbitMQ messages carry AMQP headers; their `cat` names the routing key.
  function queueLabel(headers) {
    const cat = headers.cat;
    return typeof cat === "string" && cat !== "" ? "queue · " + cat : "queue";
  }

  function readPushEvent(payload) {
    if (typeof payload === "string") {
      return { sender: "tab", text: payload, source: "tab" };
    }
    if (isPlainObject(payload) && "body" in payload) {
      const body = payload.body;
      const text = typeof body === "string" ? body : stringify(body);
      if (isPlainObject(payload.headers)) {
        return { sender: queueLabel(payload.headers), text, source: "queue" };
      }
      return { sender: "tab", text, source: "tab" };
    }
    return { sender: "tab", text: stringify(payload), source: "tab" };
  }

  function onPushEvent(args) {
    const payload = Array.isArray(args) ? args[0] : undefined;
    addMessage({ ...readPushEvent(payload), mine: false });
  }

  // ---------- publishing ----------

  function showPublishError(text) {
    ui.publishError.textContent = text;
    ui.publishError.hidden = false;
  }

  function clearPublishError() {
    ui.publishError.hidden = true;
    ui.publishError.textContent = "";
  }

  async function onPublishSubmit(event) {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (text === "" || !session || pendingPublish !== null) return;

    const token = {};
    pendingPublish = token;
    refreshControls();
    clearPublishError();
    try {
      const payload = { body: text, details: [] };
      await session.publish(TOPIC, [payload], {}, { acknowledge: true });
      // The router does not echo our own event back, so show it here.
      addMessage({ sender: "you", text, mine: true, source: "self" });
      if (ui.input.value.trim() === text) ui.input.value = "";
      ui.input.focus();
    } catch (err) {
      showPublishError("Not sent: " + describeError(err));
    } finally {
      if (pendingPublish === token) pendingPublish = null;
      refreshControls();
    }
  }

  // ---------- area calculator ----------

  function showAreaResult(text, kind, title) {
    ui.areaResult.textContent = text;
    ui.areaResult.className = kind ? "result " + kind : "result";
    ui.areaResult.title = title || "";
  }

  async function onAreaSubmit(event) {
    event.preventDefault();
    if (!session || pendingCall !== null) return;

    // Sent as strings on purpose, like the original tutorial page; the server validates.
    const height = ui.height.value.trim();
    const width = ui.width.value.trim();
    const token = {};
    pendingCall = token;
    refreshControls();
    showAreaResult("…", "pending");
    try {
      let result = await session.call(AREA_PROCEDURE, [height, width]);
      if (result instanceof autobahn.Result) result = result.args[0];
      showAreaResult(result + " m²");
    } catch (err) {
      const uri = err instanceof autobahn.Error ? err.error : "";
      showAreaResult(describeError(err), "error", uri);
    } finally {
      if (pendingCall === token) pendingCall = null;
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
    newSession.subscribe(TOPIC, onPushEvent).catch((err) => {
      if (session === newSession) showPublishError("Could not subscribe: " + describeError(err));
    });
  }

  function onClose(reason, details) {
    session = null;
    // autobahn never settles requests of a dead session; free the buttons ourselves.
    pendingPublish = null;
    if (pendingCall !== null) {
      pendingCall = null;
      showAreaResult("Connection lost before the result arrived.", "error");
    }
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
  ui.form.addEventListener("submit", onPublishSubmit);
  ui.areaForm.addEventListener("submit", onAreaSubmit);

  refreshControls();
  connect();
})();

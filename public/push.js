// Tuerca push page: live messages on a WAMP topic plus a remote area calculator.
// Plain browser script; expects the globals `autobahn` (/vendor/autobahn.min.js)
// and `Tuerca` (common.js), which holds everything shared with the chat page.
"use strict";

(() => {
  const Tuerca = globalThis.Tuerca;
  const byId = Tuerca.byId;

  const TOPIC = "push.tutorial.messages";
  const AREA_PROCEDURE = "push.tutorial.areaCuadrado";

  const area = {
    form: byId("area-form"),
    height: byId("height"),
    width: byId("width"),
    calc: byId("calc"),
    result: byId("area-result"),
  };

  let pendingCall = null; // token of the area call awaiting its result

  // ---------- messages ----------

  // The router names the RabbitMQ bridge as the publisher of what it republishes
  // (details.publisher_authrole); no tab can have that role, so no tab can forge it.
  const BRIDGE_ROLE = "bridge";

  // Bridged RabbitMQ messages carry AMQP headers; their `cat` names the routing key.
  function queueLabel(headers) {
    const cat = headers.cat;
    return typeof cat === "string" && cat !== "" ? "queue · " + cat : "queue";
  }

  function readPushEvent(payload, details) {
    const fromQueue = details.publisher_authrole === BRIDGE_ROLE;
    if (typeof payload === "string") {
      return { sender: "tab", text: payload, source: "tab" };
    }
    if (Tuerca.isPlainObject(payload) && "body" in payload) {
      const body = payload.body;
      const text = typeof body === "string" ? body : Tuerca.stringify(body);
      if (fromQueue && Tuerca.isPlainObject(payload.headers)) {
        return { sender: queueLabel(payload.headers), text, source: "queue" };
      }
      return { sender: "tab", text, source: "tab" };
    }
    return { sender: "tab", text: Tuerca.stringify(payload), source: "tab" };
  }

  // Areas come rounded from the server; this keeps other servers' float noise off the page too.
  function formatArea(value) {
    return typeof value === "number" && Number.isFinite(value)
      ? String(Number(value.toPrecision(12)))
      : String(value);
  }

  const feed = Tuerca.topicFeed({
    topic: TOPIC,
    ids: {
      list: "messages",
      empty: "empty",
      jump: "jump",
      form: "publish-form",
      input: "message",
      send: "send",
      error: "publish-error",
      offline: "publish-offline",
    },
    readEvent: readPushEvent,
    outgoing: (text) => ({
      payload: { body: text, details: [] },
      entry: { sender: "you", text, source: "self" },
    }),
    onChange: refreshCalc,
    onClose() {
      if (pendingCall !== null) {
        pendingCall = null;
        showAreaResult("Connection lost before the result arrived.", "error");
      }
    },
  });

  // ---------- area calculator ----------

  function refreshCalc() {
    area.calc.disabled = !feed.session || pendingCall !== null;
  }

  function showAreaResult(text, kind, title) {
    area.result.textContent = text;
    area.result.className = kind ? "result " + kind : "result";
    area.result.title = title || "";
  }

  async function onAreaSubmit(event) {
    event.preventDefault();
    const session = feed.session;
    if (!session || pendingCall !== null) return;

    // Sent as strings on purpose, like the original tutorial page; the server validates.
    const height = area.height.value.trim();
    const width = area.width.value.trim();
    const token = {};
    pendingCall = token;
    refreshCalc();
    showAreaResult("…", "pending");
    try {
      let result = await session.call(AREA_PROCEDURE, [height, width]);
      if (result instanceof autobahn.Result) result = result.args[0];
      showAreaResult(formatArea(result) + " m²");
    } catch (err) {
      const uri = err instanceof autobahn.Error ? err.error : "";
      showAreaResult(Tuerca.describeError(err), "error", uri);
    } finally {
      if (pendingCall === token) pendingCall = null;
      refreshCalc();
    }
  }

  // ---------- wiring ----------

  area.form.addEventListener("submit", onAreaSubmit);
  feed.open();
})();

// Tuerca chat page: nickname + messages exchanged over a WAMP topic, and who is online.
// Plain browser script; expects the globals `autobahn` (/vendor/autobahn.min.js)
// and `Tuerca` (common.js), which holds everything shared with the push page.
"use strict";

(() => {
  const Tuerca = globalThis.Tuerca;

  const TOPIC = "chat.messages";
  const NICK_KEY = "tuerca.nick";
  const NICK_MAX = 32;

  // Who is online. Every tab publishes its nick on PRESENCE_TOPIC, disclosed, so the
  // EVENT names its session: `{nick, hello: true}` once per session when it opens,
  // `{nick}` when the nick changes. A tab answers a hello with `{nick, answer: true}`, to
  // the newcomer only (eligible). Sessions leave through the router's meta event.
  const PRESENCE_TOPIC = "chat.presence";
  const LEAVE_TOPIC = "wamp.session.on_leave";
  const RENAME_DELAY_MS = 300; // publish a new nick once typing pauses this long
  // Answers to our hello are not announced as joins. The roll call (#online's
  // data-roll-call) ends once none came for ROLL_CALL_QUIET_MS, ROLL_CALL_MAX_MS at most.
  const ROLL_CALL_QUIET_MS = 500;
  const ROLL_CALL_MAX_MS = 3000;
  const MAX_SESSIONS = 5000; // sessions tracked at most (more are not listed)
  const MAX_GONE = 1000; // ids of left sessions remembered, to drop their late events

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
      online.nickChanged();
    });
    nickInput.addEventListener("change", () => {
      if (nickInput.value.trim() === "") nickInput.value = nick;
    });
  }

  // ---------- messages ----------

  // Sender timestamp when it is a usable number, otherwise `fallback`.
  function toDate(ts, fallback) {
    const date = new Date(ts);
    return typeof ts === "number" && !Number.isNaN(date.getTime()) ? date : fallback;
  }

  // `time`: when the router got the event (history), or undefined (live: now).
  function readChatEvent(payload, _details, time) {
    const received = time || new Date();
    if (!Tuerca.isPlainObject(payload)) {
      const text = typeof payload === "string" ? payload : Tuerca.stringify(payload);
      return { sender: "anonymous", text, time: received };
    }
    const sender = typeof payload.nick === "string" && payload.nick.trim() !== ""
      ? payload.nick.trim()
      : "anonymous";
    const text = typeof payload.text === "string" ? payload.text : Tuerca.stringify(payload.text);
    return { sender, text, time: toDate(payload.ts, received) };
  }

  function outgoing(text) {
    const message = { nick, text, ts: Date.now() };
    return { payload: message, entry: { sender: message.nick, text, time: new Date(message.ts) } };
  }

  // ---------- who is online ----------

  // A nick from the wire, or null when it is not one: trimmed, at most NICK_MAX long.
  function readNick(value) {
    if (typeof value !== "string") return null;
    const trimmed = Tuerca.clip(value.trim(), NICK_MAX).trim();
    return trimmed === "" ? null : trimmed;
  }

  // WAMP session ids are integers in 1..2^53.
  function isSessionId(value) {
    return Number.isInteger(value) && value > 0 && value <= 2 ** 53;
  }

  // The list of who is online (#online), kept from PRESENCE_TOPIC and LEAVE_TOPIC
  // events of the open session; announces joins, leaves and renames in the feed.
  function presence({ list, count, announce }) {
    let session = null; // the open session whose events count; null while offline
    const others = new Map(); // session id → nick, every session but ours
    const answered = new Set(); // sessions whose hello we answered
    const gone = new Set(); // sessions that left (their late events are dropped)
    // While answers to our hello are expected: { deadline, timer } (timer null until
    // the hello is out). #online's data-roll-call says "open" or "done".
    let rollCall = null;
    let published = ""; // the nick this session last published
    let renameTimer = null;
    let renderTimer = null;

    function render() {
      renderTimer = null;
      const groups = new Map(); // nick → { n, you }
      const add = (name, you) => {
        const g = groups.get(name) || { n: 0, you: false };
        g.n += 1;
        g.you = g.you || you;
        groups.set(name, g);
      };
      add(nick, true);
      for (const name of others.values()) add(name, false);
      const names = [...groups.keys()].sort((a, b) =>
        a.localeCompare(b, undefined, { sensitivity: "base" }) || (a < b ? -1 : a > b ? 1 : 0)
      );
      const items = names.map((name) => {
        const { n, you } = groups.get(name);
        const li = document.createElement("li");
        li.className = you ? "person you" : "person";
        const who = document.createElement("span");
        who.className = "who";
        who.textContent = name;
        li.append(who);
        if (n > 1) {
          const times = document.createElement("span");
          times.className = "count";
          times.textContent = " ×" + n;
          li.append(times);
        }
        if (you) {
          const mark = document.createElement("span");
          mark.className = "me";
          mark.textContent = " (you)";
          li.append(mark);
        }
        return li;
      });
      list.replaceChildren(...items);
      list.dataset.state = session ? "online" : "offline";
      count.textContent = session ? "(" + (others.size + 1) + ")" : "(offline)";
    }

    // Coalesces a burst of events (a roll call) into one redraw.
    function scheduleRender() {
      if (renderTimer === null) renderTimer = setTimeout(render, 0);
    }

    function beginRollCall() {
      endRollCall();
      rollCall = { deadline: 0, timer: null };
      list.dataset.rollCall = "open";
    }

    // The hello is out, or an answer came: wait for the next one a little longer.
    function extendRollCall() {
      if (rollCall === null) return;
      if (rollCall.deadline === 0) rollCall.deadline = Date.now() + ROLL_CALL_MAX_MS;
      clearTimeout(rollCall.timer);
      const wait = Math.max(0, Math.min(ROLL_CALL_QUIET_MS, rollCall.deadline - Date.now()));
      rollCall.timer = setTimeout(() => {
        rollCall = null;
        list.dataset.rollCall = "done";
      }, wait);
    }

    function endRollCall() {
      if (rollCall !== null) clearTimeout(rollCall.timer);
      rollCall = null;
      delete list.dataset.rollCall;
    }

    function publish(s, payload, options) {
      try {
        s.publish(PRESENCE_TOPIC, [payload], {}, { disclose_me: true, ...options });
      } catch {
        // the session is closing; the next one says hello again
      }
    }

    function forget(id) {
      gone.add(id);
      if (gone.size > MAX_GONE) gone.delete(gone.values().next().value);
      answered.delete(id);
    }

    function onPresence(s, args, details) {
      if (session !== s) return;
      const from = details && details.publisher;
      if (!isSessionId(from) || from === s.id || gone.has(from)) return;
      const payload = Array.isArray(args) ? args[0] : undefined;
      if (!Tuerca.isPlainObject(payload)) return;
      const name = readNick(payload.nick);
      if (name === null) return;
      const hello = payload.hello === true;
      const before = others.get(from);
      if (before === undefined) {
        if (others.size >= MAX_SESSIONS) return;
        others.set(from, name);
        if (payload.answer === true) extendRollCall();
        else announce(name + " joined");
      } else if (before !== name) {
        others.set(from, name);
        announce(before + " is now " + name);
      }
      if (hello && !answered.has(from)) {
        answered.add(from);
        publish(s, { nick, answer: true }, { eligible: [from] });
      }
      scheduleRender();
    }

    function onLeave(s, args) {
      if (session !== s) return;
      const id = Array.isArray(args) ? args[0] : undefined;
      if (!isSessionId(id) || id === s.id) return;
      forget(id);
      const name = others.get(id);
      if (name === undefined) return;
      others.delete(id);
      announce(name + " left");
      scheduleRender();
    }

    // Handlers never throw into autobahn; a bad event is dropped.
    function guard(fn, s) {
      return (args, _kwargs, details) => {
        try {
          fn(s, args, details);
        } catch (err) {
          console.warn("presence event dropped:", err);
        }
      };
    }

    function reset() {
      others.clear();
      answered.clear();
      gone.clear();
      clearTimeout(renameTimer);
      renameTimer = null;
    }

    return {
      // A new session: the list starts over, then the roll call fills it.
      open(s) {
        session = s;
        reset();
        beginRollCall();
        render();
        // A synchronous throw (the session closed meanwhile) becomes a rejection too.
        const subscribed = [
          new Promise((resolve) => resolve(s.subscribe(PRESENCE_TOPIC, guard(onPresence, s)))),
          new Promise((resolve) => resolve(s.subscribe(LEAVE_TOPIC, guard(onLeave, s)))),
        ];
        Promise.allSettled(subscribed).then(([mine, leaves]) => {
          if (session !== s) return;
          if (leaves.status === "rejected") console.warn("no leave events:", leaves.reason);
          if (mine.status === "rejected") {
            console.warn("no presence:", mine.reason);
            endRollCall();
            return;
          }
          published = nick;
          publish(s, { nick, hello: true });
          extendRollCall();
        });
      },
      close() {
        session = null;
        reset();
        endRollCall();
        render();
      },
      // Our nick changed: redraw, and tell the others once typing pauses.
      nickChanged() {
        clearTimeout(renameTimer);
        renameTimer = setTimeout(() => {
          renameTimer = null;
          render();
          const s = session;
          if (s === null || nick === published) return;
          published = nick;
          publish(s, { nick });
        }, RENAME_DELAY_MS);
      },
      render,
    };
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
      offline: "chat-offline",
    },
    readEvent: readChatEvent,
    outgoing,
    onOpen: (session) => online.open(session),
    onClose: () => online.close(),
  });

  const online = presence({
    list: Tuerca.byId("online"),
    count: Tuerca.byId("online-count"),
    announce: (text) => feed.announce(text),
  });

  // ---------- wiring ----------

  initNick();
  online.render();
  feed.open();
})();

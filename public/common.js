// Tuerca pages: helpers shared by push.js and chat.js.
// Plain browser script, loaded after /vendor/autobahn.min.js and before the page
// script; everything it offers lives on the one global `Tuerca`.
"use strict";

globalThis.Tuerca = (() => {
  const DEFAULT_MAX_MESSAGES = 500;
  const DEFAULT_NEAR_BOTTOM_PX = 32;
  // A longer message (or one of more lines) shows its start and a "show more" button.
  const COLLAPSE_CHARS = 600;
  const COLLAPSE_LINES = 12;

  // The page's own reopen, for closes autobahn will not retry (any GOODBYE or ABORT
  // from the router, such as wamp.close.system_shutdown, turns autobahn's retry off):
  // 1 s doubling up to 15 s, each delay ±20 % so that tabs do not come back in step.
  const REOPEN_INITIAL_S = 1;
  const REOPEN_MAX_S = 15;
  const REOPEN_JITTER = 0.2;
  // A session that lasted this long starts the backoff over at its next close.
  const STABLE_SESSION_MS = 10000;
  // Router answers that another try would only repeat: the page stays disconnected.
  const FINAL_CLOSE_REASONS = new Set([
    "wamp.error.no_such_realm",
    "wamp.error.not_authorized",
    "wamp.error.authorization_failed",
    "wamp.error.authentication_failed",
    "wamp.error.no_auth_method",
    "wamp.error.cannot_authenticate",
  ]);

  // ---------- small helpers ----------

  const byId = (id) => document.getElementById(id);

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
    if (typeof autobahn !== "undefined" && err instanceof autobahn.Error) {
      const first = err.args && err.args[0];
      if (typeof first === "string" && first !== "") return first;
      if (first !== undefined) return stringify(first);
      return err.error;
    }
    if (err instanceof Error) return err.message;
    return String(err);
  }

  // ---------- connection badge ----------

  // The #status badge: data-state plus text, and the "reconnecting in Ns" countdown.
  function statusBadge(el) {
    let countdownTimer = null;

    function set(state, text, title) {
      el.dataset.state = state;
      el.textContent = text || state;
      el.title = title || "";
    }

    function stopCountdown() {
      clearInterval(countdownTimer);
      countdownTimer = null;
    }

    // The next attempt comes in `seconds`; show it ticking down. `title` explains why.
    function startCountdown(seconds, title) {
      stopCountdown();
      const deadline = Date.now() + seconds * 1000;
      const tick = () => {
        const left = Math.ceil((deadline - Date.now()) / 1000);
        if (left <= 0) {
          stopCountdown();
          set("connecting");
          return;
        }
        set("reconnecting", "reconnecting in " + left + "s", title);
      };
      tick();
      countdownTimer = setInterval(tick, 250);
    }

    return { set, startCountdown, stopCountdown };
  }

  // ---------- error notice ----------

  // A hidden-until-needed paragraph such as #publish-error or #chat-error.
  function notice(el) {
    return {
      show(text) {
        el.textContent = text;
        el.hidden = false;
      },
      clear() {
        el.hidden = true;
        el.textContent = "";
      },
    };
  }

  // ---------- offline banner ----------

  // The line above the composer that says, where the user types, that sending is off
  // while the connection is away. A page without the element gets a no-op.
  function offlineBanner(el) {
    let wasOpen = false; // a session was open before: "connection lost" rather than "cannot connect"
    return {
      show(final) {
        if (!el) return;
        if (final) {
          el.textContent = "Disconnected. Messages cannot be sent; reload the page to try again.";
        } else {
          el.textContent =
            (wasOpen ? "Connection lost. Reconnecting…" : "Cannot reach the server. Retrying…") +
            " Messages cannot be sent until then; what you type stays in the box.";
        }
        el.dataset.state = final ? "disconnected" : "reconnecting";
        el.hidden = false;
      },
      clear() {
        wasOpen = true;
        if (!el) return;
        el.hidden = true;
        el.textContent = "";
      },
    };
  }

  // ---------- message list ----------

  // The first `max` UTF-16 units of `text`, not splitting a surrogate pair.
  function clip(text, max) {
    if (text.length <= max) return text;
    const code = text.charCodeAt(max - 1);
    return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
  }

  // Where a long message is cut when collapsed: after COLLAPSE_CHARS characters or
  // COLLAPSE_LINES lines, whichever comes first; -1 when it is short enough to show whole.
  function collapseAt(text) {
    let cut = text.length > COLLAPSE_CHARS ? clip(text, COLLAPSE_CHARS).length : text.length;
    let newline = -1;
    for (let line = 0; line < COLLAPSE_LINES; line++) {
      newline = text.indexOf("\n", newline + 1);
      if (newline === -1) break;
    }
    if (newline !== -1 && newline < cut) cut = newline;
    // Not worth a button for a handful of hidden characters.
    return text.length - cut > 40 ? cut : -1;
  }

  // The message text, collapsed behind a "show more" button when long.
  function messageText(text) {
    const textEl = document.createElement("span");
    textEl.className = "text";
    const cut = collapseAt(text);
    if (cut === -1) {
      textEl.textContent = text;
      return [textEl];
    }
    const short = text.slice(0, cut).trimEnd() + "…";
    const more = document.createElement("button");
    more.type = "button";
    more.className = "more";
    let expanded = false;
    const show = () => {
      textEl.textContent = expanded ? text : short;
      textEl.dataset.collapsed = expanded ? "false" : "true";
      more.textContent = expanded ? "show less" : "show more";
      more.setAttribute("aria-expanded", String(expanded));
    };
    more.addEventListener("click", () => {
      expanded = !expanded;
      show();
    });
    show();
    return [textEl, more];
  }

  // Builds one li.msg; user data only ever goes through textContent.
  function buildMessage({ time, sender, text, mine, source }) {
    const li = document.createElement("li");
    li.className = mine ? "msg mine" : "msg";
    if (source !== undefined) li.dataset.source = source;

    const timeEl = document.createElement("time");
    timeEl.className = "time";
    timeEl.dateTime = time.toISOString();
    timeEl.textContent = formatClock(time);

    const senderEl = document.createElement("span");
    senderEl.className = "sender";
    senderEl.textContent = sender;

    li.append(timeEl, senderEl, ...messageText(text));
    return li;
  }

  // Builds one li.system: a line from the page itself ("ana joined"), not a message.
  // `kind` adds a class (li.system.gap: the line that says messages may be missing).
  function buildSystemLine({ time, text, kind }) {
    const li = document.createElement("li");
    li.className = kind ? "system " + kind : "system";

    const timeEl = document.createElement("time");
    timeEl.className = "time";
    timeEl.dateTime = time.toISOString();
    timeEl.textContent = formatClock(time);

    const textEl = document.createElement("span");
    textEl.className = "text";
    textEl.textContent = text;

    li.append(timeEl, " ", textEl);
    return li;
  }

  // A capped message list that follows the newest entry until the user scrolls up,
  // then offers the jump button instead. Returns { add(entry), addSystem(text, kind?) };
  // an entry is { sender, text, mine, time?, source? } (time defaults to now).
  function messageList({
    list,
    empty,
    jump,
    max = DEFAULT_MAX_MESSAGES,
    nearBottomPx = DEFAULT_NEAR_BOTTOM_PX,
  }) {
    let followNewest = true; // false once the user scrolls up to read history

    function isNearBottom() {
      return list.scrollHeight - list.scrollTop - list.clientHeight <= nearBottomPx;
    }

    function scrollToNewest() {
      list.scrollTop = list.scrollHeight;
      jump.hidden = true;
    }

    // Drop the oldest entries; keep the visible ones in place if the user scrolled up.
    function trimList() {
      if (list.children.length <= max) return;
      const before = list.scrollHeight;
      while (list.children.length > max) list.firstElementChild.remove();
      if (!followNewest) list.scrollTop -= before - list.scrollHeight;
    }

    function append(li) {
      list.append(li);
      empty.hidden = true;
      trimList();
      if (followNewest) scrollToNewest();
      else jump.hidden = false;
    }

    function add(entry) {
      append(buildMessage({ time: new Date(), ...entry }));
    }

    function addSystem(text, kind) {
      append(buildSystemLine({ time: new Date(), text, kind }));
    }

    list.addEventListener(
      "scroll",
      () => {
        followNewest = isNearBottom();
        if (followNewest) jump.hidden = true;
      },
      { passive: true },
    );
    jump.addEventListener("click", () => {
      followNewest = true;
      scrollToNewest();
    });
    globalThis.addEventListener("resize", () => {
      if (followNewest) scrollToNewest();
    });

    return { add, addSystem };
  }

  // ---------- composer ----------

  // A one-line form that publishes its trimmed text. `send(text)` does the page's
  // publish (and shows the message); while it runs the composer is busy. The input
  // is cleared only if it still holds the text that was sent, so a failed send
  // leaves it there to try again. `onChange` runs when busy flips so the page can
  // refresh its buttons.
  function composer({ form, input, error, canSend, send, onChange }) {
    let pending = null; // token of the publish awaiting its acknowledgement

    async function onSubmit(event) {
      event.preventDefault();
      const text = input.value.trim();
      if (text === "" || !canSend() || pending !== null) return;

      const token = {};
      pending = token;
      onChange();
      error.clear();
      try {
        await send(text);
        if (input.value.trim() === text) input.value = "";
        input.focus();
      } catch (err) {
        error.show("Not sent: " + describeError(err));
      } finally {
        if (pending === token) pending = null;
        onChange();
      }
    }

    form.addEventListener("submit", onSubmit);

    return {
      get busy() {
        return pending !== null;
      },
      // Forget the publish in flight (its session is gone and will never answer).
      reset() {
        if (pending === null) return;
        pending = null;
        error.show(
          "Not confirmed: the connection dropped before the server answered. " +
            "The message is still in the box; send it again once connected.",
        );
      },
    };
  }

  // ---------- connection ----------

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + "/ws";
  }

  // The WAMP connection to /ws (realm1, retrying forever), shown on the #status badge.
  // `session` is the open autobahn session, or null while offline. On every
  // (re)connect `topic` is subscribed to onEvent again, and the badge says
  // "connected" once that subscription is in place (a failed subscription of the
  // still-open session shows on `error`). onOpen(session) runs when a session opens
  // (after onChange); onSubscribed(session, subscription) once its subscription is in
  // place (subscription null when it failed), before any of its events;
  // onClose({ final }) when a session goes away or an attempt failed (before
  // onChange; `final` when the page will not try again by itself); onChange()
  // whenever `session` changes. Call open() once.
  //
  // autobahn retries by itself when the socket drops, but not after the router said
  // GOODBYE or ABORT (a server restart says GOODBYE wamp.close.system_shutdown); then
  // the page schedules its own reopen, with backoff, unless the router refused us
  // for good (FINAL_CLOSE_REASONS).
  function connection({
    status,
    topic,
    onEvent,
    error,
    onChange,
    onOpen = () => {},
    onSubscribed = () => {},
    onClose = () => {},
  }) {
    const badge = statusBadge(status);
    let conn = null;
    let current = null;
    let openedAt = 0; // when the current session opened, for the backoff reset
    let reopenTimer = null;
    let reopens = 0; // reopens in a row without a stable session in between

    function onopen(session) {
      current = session;
      openedAt = Date.now();
      clearTimeout(reopenTimer);
      reopenTimer = null;
      badge.stopCountdown();
      badge.set("connecting");
      onChange();
      // Each reconnect brings a fresh session, so subscribe again every time.
      // (A session that closed meanwhile makes subscribe throw: that is a rejection too.)
      new Promise((resolve) => resolve(session.subscribe(topic, onEvent))).then(
        (subscription) => {
          if (current !== session) return;
          badge.set("connected");
          onSubscribed(session, subscription);
        },
        (err) => {
          if (current !== session) return;
          badge.set("connected");
          error.show("Could not subscribe: " + describeError(err));
          onSubscribed(session, null);
        },
      );
      onOpen(session);
    }

    // The next reopen delay in seconds.
    function nextReopenDelay() {
      const base = Math.min(REOPEN_MAX_S, REOPEN_INITIAL_S * 2 ** reopens);
      reopens += 1;
      const jittered = base * (1 + (Math.random() * 2 - 1) * REOPEN_JITTER);
      return Math.min(REOPEN_MAX_S, Math.max(0.5, jittered));
    }

    function scheduleReopen(why) {
      const delay = nextReopenDelay();
      badge.startCountdown(delay, why ? "The server closed the connection (" + why + ")" : "");
      clearTimeout(reopenTimer);
      reopenTimer = setTimeout(() => {
        reopenTimer = null;
        badge.stopCountdown();
        badge.set("connecting");
        try {
          conn.open();
        } catch {
          // autobahn is already opening: nothing to do
        }
      }, delay * 1000);
    }

    function onclose(reason, details) {
      const lived = openedAt === 0 ? 0 : Date.now() - openedAt;
      openedAt = 0;
      if (lived >= STABLE_SESSION_MS) reopens = 0;
      current = null;
      const routerReason = details && details.reason;
      const why = (details && details.message) || routerReason || reason || "";
      const final = !(details && details.will_retry) &&
        (reason === "unsupported" || FINAL_CLOSE_REASONS.has(routerReason));
      onClose({ final });
      onChange();
      if (details && details.will_retry) {
        // autobahn retries by itself (the socket dropped or the server is unreachable).
        badge.startCountdown(details.retry_delay, "Connection lost (" + reason + "); trying again");
      } else if (final) {
        badge.stopCountdown();
        badge.set("disconnected", "disconnected", why ? "Reload the page to retry (" + why + ")" : "");
      } else {
        // The router said goodbye (a restart) or autobahn gave up: try again ourselves.
        scheduleReopen(why);
      }
      // Nothing returned: autobahn keeps retrying whenever it means to.
    }

    function open() {
      if (typeof autobahn === "undefined") {
        badge.set("disconnected", "disconnected", "/vendor/autobahn.min.js did not load");
        onClose({ final: true });
        return;
      }
      conn = new autobahn.Connection({
        url: socketUrl(),
        realm: "realm1",
        protocols: ["wamp.2.json"],
        use_es6_promises: true,
        max_retries: -1,
        initial_retry_delay: 1,
        max_retry_delay: 15,
        retry_delay_growth: 1.5,
      });
      conn.onopen = onopen;
      conn.onclose = onclose;
      badge.set("connecting");
      conn.open();
    }

    return {
      get session() {
        return current;
      },
      open,
    };
  }

  // ---------- history and catch-up ----------

  // The router's event history (the WAMP spec's meta procedure): the events a
  // subscription's topic had, newest first with `reverse`, only those after a
  // publication with `after_publication`; kwargs.complete is false when that
  // publication is no longer in the history (too old, or the router restarted).
  const HISTORY_PROCEDURE = "wamp.subscription.get_events";
  const DEFAULT_HISTORY_LIMIT = 50; // messages shown when a page opens
  const CATCH_UP_LIMIT = 200; // missed messages fetched after a reconnect, at most
  const HISTORY_TIMEOUT_MS = 10000; // a history answer later than this counts as none
  const MAX_SEEN_IDS = 2000; // publication ids remembered against duplicates

  // WAMP ids (publications, sessions) are integers in 1..2^53.
  function isId(value) {
    return Number.isInteger(value) && value > 0 && value <= 2 ** 53;
  }

  function gapText(from, to) {
    return "You were offline from " + formatClock(from) + " to " + formatClock(to) +
      "; some messages may be missing.";
  }

  // A get_events answer as { events, complete }; throws when it is not a list.
  // autobahn resolves a lone argument without keywords to the bare value.
  function readHistoryAnswer(result) {
    const isResult = typeof autobahn !== "undefined" && result instanceof autobahn.Result;
    const events = isResult ? result.args[0] : result;
    const kwargs = isResult && isPlainObject(result.kwargs) ? result.kwargs : {};
    if (!Array.isArray(events)) throw new TypeError("the event history is not a list");
    const since = typeof kwargs.since === "string" ? Date.parse(kwargs.since) : NaN;
    return { events, complete: kwargs.complete === true, since };
  }

  // What the feed showed, in the router's order, so that nothing shows twice: every
  // item is { id, entry } (id: the publication, null when unknown; entry: the
  // message, null for an event that cannot be shown) or { system, kind } (a line of
  // the page's own). While a catch-up runs the feed holds what arrives live (and our
  // own acknowledged messages) and shows it after the history, in arrival order.
  function timeline({ showMessage, showSystem }) {
    const seen = new Set();
    let last = null; // the newest publication shown (or skipped as unshowable)
    let held = null; // while catching up: the items that arrived, in order
    let carried = []; // our own messages held when a session went away, for the next catch-up

    function show(item) {
      if (item.system !== undefined) {
        showSystem(item.system, item.kind);
        return;
      }
      if (item.id !== null) {
        if (seen.has(item.id)) return;
        seen.add(item.id);
        if (seen.size > MAX_SEEN_IDS) seen.delete(seen.values().next().value);
        last = item.id;
      }
      if (item.entry !== null) showMessage(item.entry);
    }

    return {
      get last() {
        return last;
      },
      // Shows `item` now, or after the catch-up if one runs.
      take(item) {
        if (held !== null) held.push(item);
        else show(item);
      },
      // A catch-up starts: hold what arrives until finish() or drop().
      hold() {
        held = carried;
        carried = [];
      },
      // The catch-up is over: `items` (a gap line and the history, oldest first),
      // then what was held. A history event that is one of our own held messages
      // shows as ours.
      finish(items) {
        const before = held || [];
        held = null;
        const own = new Map();
        for (const item of before) if (item.own && item.id !== null) own.set(item.id, item);
        for (const item of items) show(item.id !== undefined && own.has(item.id) ? own.get(item.id) : item);
        for (const item of before) show(item);
      },
      // The session went away before its catch-up ended: the next catch-up asks for
      // the held events again (the newest shown is still the publication before
      // them). Our own messages wait for it (to show where the history has them, or
      // after it); the page's own lines are shown now.
      drop() {
        const before = held || [];
        held = null;
        for (const item of before) {
          if (item.system !== undefined) show(item);
          else if (item.own) carried.push(item);
        }
      },
    };
  }

  // ---------- a page's topic feed ----------

  // What both pages are built around: the #status badge, a message list fed by one
  // topic, a composer that publishes to that same topic, an error notice and the
  // offline banner above the composer (shown while the page is reconnecting).
  // `ids` names the elements: { list, empty, jump, form, input, send, error, offline }.
  // readEvent(payload, details, time) turns an event's first argument (and the
  // autobahn event details: publisher_authrole, ...; `time`: when the router got it,
  // for events from the history) into a list entry; outgoing(text) gives
  // { payload, entry }: what to publish and, once the router acknowledged it, how to
  // show it (the router does not echo our own events).
  //
  // When it opens the feed shows the topic's last `historyLimit` events from the
  // router's history; after a reconnect, those it missed (after the last
  // publication it showed), without duplicates, then the live ones again. Where it
  // cannot tell that nothing is missing (the history no longer reaches back, the
  // router restarted, or has no history) it says so in one line at that place.
  //
  // onChange() runs after the feed refreshed its send button (session or busy state
  // changed); onOpen(session) when a session opens, onClose() when it goes away.
  // Returns { session, open(), announce(text) }; announce adds a line of the page's
  // own (li.system) to the list.
  function topicFeed({
    topic,
    ids,
    readEvent,
    outgoing,
    historyLimit = DEFAULT_HISTORY_LIMIT,
    onChange = () => {},
    onOpen = () => {},
    onClose = () => {},
  }) {
    const send = byId(ids.send);
    const error = notice(byId(ids.error));
    const messages = messageList({ list: byId(ids.list), empty: byId(ids.empty), jump: byId(ids.jump) });
    const banner = offlineBanner(byId(ids.offline));
    const shown = timeline({
      showMessage: (entry) => messages.add(entry),
      showSystem: (text, kind) => messages.addSystem(text, kind),
    });
    let loaded = false; // the opening history was shown (or could not be had)
    let offlineSince = null; // when the connection dropped, until the catch-up after it ended
    let backAt = null; // when the current session opened
    let catchUp = null; // token of the catch-up in progress

    // A list entry for an event, or null when readEvent cannot make one.
    function entryFor(payload, details, time) {
      try {
        const entry = readEvent(payload, details, time);
        return isPlainObject(entry) ? { ...entry, mine: false } : null;
      } catch (err) {
        console.warn("event dropped:", err);
        return null;
      }
    }

    function onEvent(args, _kwargs, details) {
      const d = details || {};
      const payload = Array.isArray(args) ? args[0] : undefined;
      shown.take({ id: isId(d.publication) ? d.publication : null, entry: entryFor(payload, d) });
    }

    // One event of the history as an item; null when it is malformed.
    function historyItem(event) {
      if (!isPlainObject(event) || !isId(event.publication)) return null;
      if (event.args !== undefined && event.args !== null && !Array.isArray(event.args)) return null;
      const details = isPlainObject(event.details) ? event.details : {};
      const stamp = typeof event.timestamp === "string" ? new Date(event.timestamp) : null;
      const time = stamp !== null && !Number.isNaN(stamp.getTime()) ? stamp : new Date();
      const payload = Array.isArray(event.args) ? event.args[0] : undefined;
      const entry = entryFor(payload, details, time);
      return { id: event.publication, entry: entry === null ? null : { time, ...entry } };
    }

    // After the subscription is in place: the opening history, or what was missed.
    function startCatchUp(session, subscription) {
      const token = {};
      catchUp = token;
      const reconnect = loaded;
      const since = offlineSince || backAt;
      const after = reconnect ? shown.last : null;
      const limit = after !== null ? CATCH_UP_LIMIT : historyLimit;
      const query = after !== null
        ? { after_publication: after, reverse: true, limit }
        : { reverse: true, limit };

      const end = (items, gap) => {
        if (catchUp !== token) return;
        catchUp = null;
        clearTimeout(token.timer);
        loaded = true;
        offlineSince = null;
        const line = gap ? [{ system: gapText(since, backAt), kind: "gap" }] : [];
        shown.finish([...line, ...items]);
      };
      // Without the history a reconnect cannot tell what it missed.
      const fail = (err) => {
        if (catchUp !== token) return;
        console.warn("no event history:", err);
        end([], reconnect);
      };
      token.timer = setTimeout(() => fail(new Error("no answer in time")), HISTORY_TIMEOUT_MS);
      if (subscription === null) {
        fail(new Error("not subscribed"));
        return;
      }
      new Promise((resolve) => resolve(session.call(HISTORY_PROCEDURE, [subscription.id], query))).then(
        (result) => {
          if (catchUp !== token) return;
          let answer;
          try {
            answer = readHistoryAnswer(result);
          } catch (err) {
            fail(err);
            return;
          }
          const items = [];
          for (const event of answer.events) {
            const item = historyItem(event);
            if (item !== null) items.push(item);
          }
          items.reverse(); // asked newest first (so a long gap keeps the newest): shown oldest first
          // A gap when the publication we asked about is gone, or when more were missed
          // than we asked for; without a publication to ask about, when the page is full.
          // A history kept only since after we went offline: the router restarted meanwhile.
          const full = answer.events.length >= limit;
          const restarted = Number.isFinite(answer.since) && answer.since > since.getTime();
          const gap = reconnect && (restarted || (after !== null ? !answer.complete || full : full));
          end(items, gap);
        },
        fail,
      );
    }

    const link = connection({
      status: byId("status"),
      topic,
      onEvent,
      error,
      onChange: refresh,
      onOpen(session) {
        backAt = new Date();
        shown.hold();
        banner.clear();
        onOpen(session);
      },
      onSubscribed: startCatchUp,
      onClose({ final }) {
        // The first close after a session: the start of the time offline.
        if (loaded && offlineSince === null) offlineSince = new Date();
        shown.drop();
        if (catchUp !== null) clearTimeout(catchUp.timer);
        catchUp = null;
        backAt = null;
        banner.show(final);
        // autobahn never settles requests of a dead session; free the button ourselves.
        publisher.reset();
        onClose();
      },
    });

    const publisher = composer({
      form: byId(ids.form),
      input: byId(ids.input),
      error,
      canSend: () => link.session !== null,
      onChange: refresh,
      async send(text) {
        const { payload, entry } = outgoing(text);
        const publication = await link.session.publish(topic, [payload], {}, { acknowledge: true });
        const id = publication && isId(publication.id) ? publication.id : null;
        shown.take({ id, entry: { ...entry, mine: true }, own: true });
      },
    });

    function refresh() {
      send.disabled = !link.session || publisher.busy;
      onChange();
    }

    return {
      get session() {
        return link.session;
      },
      open() {
        refresh();
        link.open();
      },
      announce(text) {
        shown.take({ system: text });
      },
    };
  }

  return {
    byId,
    formatClock,
    isPlainObject,
    stringify,
    clip,
    describeError,
    statusBadge,
    notice,
    buildMessage,
    buildSystemLine,
    messageList,
    composer,
    connection,
    topicFeed,
  };
})();

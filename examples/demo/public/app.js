/* The demo page: plain browser JavaScript, no bundler. `io` comes from /socket.io/socket.io.js. */
/* global io, document, window */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  // What each refusal means here. The page only ever gets the code (err.message and err.data.code):
  // the server's diagnosis stays in its log.
  const EXPLAIN = {
    NO_SESSION_COOKIE: "No session cookie yet: log in first.",
    SESSION_NOT_FOUND: "The cookie's session is gone: you logged out (here or in another tab), or it expired.",
    SESSION_EXPIRED: "The session expired: log in again.",
    UNAUTHENTICATED: "The session has no user in it: log in.",
    BAD_SIGNATURE:
      "The cookie's signature does not verify (was the server restarted with another secret?): log in again.",
    MALFORMED_COOKIE: "The session cookie is not in express-session's format: log in again.",
    ORIGIN_NOT_ALLOWED: "This page's origin may not open sockets on this server.",
    FORBIDDEN: "The server's policy refused this socket.",
    STORE_UNAVAILABLE: "The session store did not answer: retrying shortly.",
  };
  const QUICK_USERS = ["alice", "bob", "carol"];

  // WebSocket first: the page closes and reopens its connection on every login and logout, and closing a
  // long-polling connection mid-upgrade leaves a stray poll that the server answers 400 (harmless, but a
  // red line in the console). The browser sends the cookie on the WebSocket handshake all the same;
  // polling stays the fallback.
  const socket = io({ autoConnect: false, transports: ["websocket", "polling"], tryAllTransports: true });
  let me = null; // the user id the server gave this socket, never what the page typed
  let account = null; // who the HTTP side says is logged in
  let retryTimer;

  /* ---- connection state ------------------------------------------------------------------------ */

  function setState(kind, text, code) {
    $("state").dataset.state = kind;
    const label = $("state-text");
    label.replaceChildren(text);
    if (code) {
      const badge = document.createElement("code");
      badge.textContent = code;
      label.append(" ", badge);
    }
    const usable = kind === "connected";
    $("text").disabled = !usable;
    $("chat").querySelector("button").disabled = !usable;
  }

  const clock = (at) => new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function logEvent(text, tone) {
    const item = document.createElement("li");
    item.textContent = `${clock(Date.now())}  ${text}`;
    if (tone) item.className = tone;
    const list = $("events");
    list.prepend(item);
    while (list.children.length > 12) list.lastElementChild.remove();
  }

  /* ---- 1 · session (HTTP) ---------------------------------------------------------------------- */

  let accountShown = 0; // bumped on every update, so an answer that was overtaken is dropped

  function showAccount(user, rooms) {
    accountShown++;
    account = user;
    $("signed-in").hidden = user === null;
    $("signed-out").hidden = user !== null;
    $("http-user").textContent = user ?? "";
    $("quick-label").textContent = user === null ? "Log in as" : "Switch to";
    for (const button of document.querySelectorAll(".quick-login button")) {
      const current = button.textContent === user;
      button.disabled = current;
      if (current) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
    $("push-fields").disabled = user === null;
    if (user === null || $("push-result").dataset.tone === undefined) {
      showPushResult(user === null ? "Log in to push." : "Pick who gets it, then push.");
    }
    showMyRooms(rooms ?? []);
  }

  async function refreshAccount() {
    const asked = accountShown;
    try {
      const res = await fetch("/api/me", { headers: { accept: "application/json" }, cache: "no-store" });
      const { user, rooms } = await res.json();
      if (asked === accountShown) showAccount(user, rooms);
    } catch {
      // The server is away; the connection state already says so.
    }
  }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      headers: { accept: "application/json" },
      body: new URLSearchParams(body),
    });
    return res.json();
  }

  // The server reads the cookie from the handshake that opened the connection, so after logging in or
  // out the socket must open a new connection (not just reconnect the namespace over the old one).
  function rehandshake() {
    clearTimeout(retryTimer);
    socket.disconnect();
    setState("connecting", "connecting…");
    socket.connect();
  }

  async function logIn(form) {
    const reply = await post(form.action, new FormData(form)).catch(() => ({
      ok: false,
      error: "The server did not answer.",
    }));
    $("login-error").hidden = reply.ok;
    $("login-error").textContent = reply.ok ? "" : reply.error;
    if (!reply.ok) return;
    if (form.id === "login") $("name").value = "";
    showAccount(reply.user, []); // a login starts a new session: no rooms yet
    rehandshake();
  }

  for (const form of document.querySelectorAll("#login, .quick-login")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void logIn(event.currentTarget);
    });
  }

  $("logout").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reply = await post(event.currentTarget.action, {}).catch(() => ({ ok: false }));
    if (!reply.ok) return;
    showAccount(null, []);
    // Try again with the same cookie, as a page would after a blip: the server refuses it.
    rehandshake();
  });

  /* ---- 2 · socket ------------------------------------------------------------------------------ */

  socket.on("connect", () => {
    setState("connecting", "connected, waiting for the server to say who…");
    $("refusal").textContent = "nothing";
    logEvent("connect", "ok");
  });

  socket.on("welcome", ({ userId, history, rooms }) => {
    me = userId;
    setState("connected", `connected as ${userId}`);
    $("socket-user").textContent = userId;
    logEvent(`welcome: the server says this socket is ${userId}`, "ok");
    $("messages").replaceChildren();
    for (const message of history) addMessage(message);
    $("chat-empty").hidden = history.length > 0;
    showMyRooms(rooms);
    void refreshAccount(); // another tab may have logged in as someone else
  });

  socket.on("connect_error", (err) => {
    const code = err.data && err.data.code;
    if (code) {
      // Refused by sessionAuth: err.message is the code, err.data is { code, retryable }.
      setState("refused", "refused:", code);
      const shown = document.createElement("code");
      shown.textContent = err.message;
      const why = document.createElement("span");
      why.className = "why";
      why.textContent = EXPLAIN[code] ?? "";
      $("refusal").replaceChildren(shown, why);
      logEvent(`connect_error: message=${err.message} data.code=${code} retryable=${err.data.retryable}`, "bad");
      // socket.io does not retry a refusal by itself; only the retryable code is worth another try.
      if (err.data.retryable) retryTimer = window.setTimeout(rehandshake, 3000);
      void refreshAccount();
    } else {
      // Below socket.io (server down, network): the client keeps retrying on its own.
      setState("offline", "cannot reach the server, retrying…");
      logEvent(`connect_error: ${err.message}`, "bad");
    }
  });

  socket.on("disconnect", (reason) => {
    me = null;
    $("socket-user").textContent = "nobody (disconnected)";
    $("tabs").textContent = "–";
    showOnline([], "unknown while disconnected");
    showMembers(null); // no news reaches a disconnected page: show none rather than stale ones
    logEvent(`disconnect: ${reason}`);
    if (reason === "io client disconnect") return; // ours: rehandshake() is already reconnecting
    if (reason === "io server disconnect") {
      // The server dropped this socket because its session ended (a logout or a new login, maybe in
      // another tab). socket.io leaves reconnecting to us: try, and the server's answer shows why.
      logEvent("the server dropped this socket: its session ended; trying again");
      rehandshake();
    } else {
      setState("connecting", "connection lost, reconnecting…"); // socket.io retries by itself
    }
    void refreshAccount();
  });

  socket.on("tabs", ({ count }) => {
    $("tabs").textContent = count === 1 ? "1 tab (this one)" : `${count} tabs`;
  });

  $("reconnect").addEventListener("click", rehandshake);

  /* ---- 3 · rooms ------------------------------------------------------------------------------- */

  function roomItems() {
    return document.querySelectorAll("#rooms li[data-room]");
  }

  function showMyRooms(rooms) {
    for (const item of roomItems()) {
      const joined = rooms.includes(item.dataset.room);
      item.dataset.joined = String(joined);
      const button = item.querySelector("button");
      button.firstChild.textContent = joined ? "Leave" : "Join";
      button.disabled = account === null;
    }
  }

  /** `rooms`: who is in each room, as the server says; null: unknown (disconnected). */
  function showMembers(rooms) {
    if (rooms === null) {
      for (const item of roomItems()) item.querySelector(".members").textContent = "–";
      return;
    }
    for (const { room, members } of rooms) {
      const item = document.querySelector(`#rooms li[data-room="${room}"]`);
      if (item === null) continue;
      item.querySelector(".members").textContent = members.length === 0 ? "nobody" : members.join(", ");
    }
  }

  for (const item of roomItems()) {
    item.querySelector("button").addEventListener("click", async () => {
      const action = item.dataset.joined === "true" ? "leave" : "join";
      const reply = await post(`/api/rooms/${action}`, { room: item.dataset.room }).catch(() => ({
        ok: false,
        error: "The server did not answer.",
      }));
      $("rooms-error").hidden = reply.ok;
      $("rooms-error").textContent = reply.ok ? "" : reply.error;
      if (reply.ok) showMyRooms(reply.rooms);
    });
  }

  socket.on("rooms:mine", showMyRooms); // this session's rooms changed, maybe in another tab
  socket.on("rooms", showMembers);

  /* ---- 4 · push -------------------------------------------------------------------------------- */

  function pushTarget() {
    return $("push-form").querySelector("input[name=target]:checked").value;
  }

  function showTargetFields() {
    const target = pushTarget();
    $("push-user-field").hidden = target !== "user";
    $("push-room-field").hidden = target !== "room";
    $("push-user").required = target === "user";
  }

  for (const radio of document.querySelectorAll("#push-form input[name=target]"))
    radio.addEventListener("change", showTargetFields);

  function showPushResult(text, tone) {
    const result = $("push-result");
    result.textContent = text;
    if (tone) result.dataset.tone = tone;
    else delete result.dataset.tone;
  }

  function describeDelivery(reply) {
    const sockets = reply.recipients === 1 ? "1 socket" : `${reply.recipients} sockets`;
    if (reply.recipients === 0) {
      return pushTarget() === "user"
        ? "Delivered to 0 sockets: nobody is online as that user (a real app would send an e-mail)."
        : "Delivered to 0 sockets: nobody is there right now.";
    }
    const acked = reply.acked === reply.recipients ? "all acknowledged" : `${reply.acked} acknowledged in time`;
    return `Delivered to ${sockets}, ${acked}.`;
  }

  /** The push form's target, as the server's Notice names it. */
  function formTarget() {
    const kind = pushTarget();
    if (kind === "user") return { kind, name: $("push-user").value.trim() };
    if (kind === "room") return { kind, name: $("push-room").value };
    return { kind: "all" };
  }

  $("push-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    showPushResult("Pushing…");
    const sent = { from: me, to: formTarget(), text: $("push-text").value.trim() };
    try {
      const reply = await post(form.action, new FormData(form)).catch(() => ({
        ok: false,
        error: "The server did not answer.",
      }));
      if (reply.ok) {
        showPushResult(describeDelivery(reply), reply.recipients === 0 ? "warn" : "ok");
        // The sender sees what they pushed, in their own feed too: as a recipient it is there already
        // (the router answers after the acknowledgements), otherwise it is added here, once.
        addNotice({ ...sent, id: reply.id, at: Date.now() });
        $("push-text").value = "";
      } else {
        showPushResult(reply.error, "bad");
      }
    } finally {
      button.disabled = false;
    }
  });

  /* ---- live feed ------------------------------------------------------------------------------- */

  function showOnline(users, placeholder) {
    const list = $("online");
    list.replaceChildren();
    for (const { userId, tabs } of users) {
      const item = document.createElement("li");
      item.textContent = tabs > 1 ? `${userId} · ${tabs} tabs` : userId;
      if (userId === me) item.classList.add("me");
      list.append(item);
    }
    if (users.length === 0) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = placeholder;
      list.append(none);
    }
    // Suggest who is online (and the quick names) in the push form.
    const names = [...new Set([...users.map((user) => user.userId), ...QUICK_USERS])];
    $("known-users").replaceChildren(
      ...names.map((name) => Object.assign(document.createElement("option"), { value: name })),
    );
  }

  socket.on("online", (users) => showOnline(users, "nobody"));

  function timeOf(at) {
    const when = document.createElement("time");
    when.dateTime = new Date(at).toISOString();
    when.textContent = clock(at);
    return when;
  }

  function appendToFeed(item) {
    const list = $("messages");
    list.append(item);
    while (list.children.length > 200) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
    $("chat-empty").hidden = true;
  }

  function addMessage({ from, text, at }) {
    const item = document.createElement("li");
    item.dataset.kind = "chat";
    if (from === me) item.classList.add("mine");
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    const body = document.createElement("p");
    body.className = "text";
    body.textContent = text;
    item.append(who, " ", timeOf(at), body); // real spaces: screen readers and copy-paste see words
    appendToFeed(item);
  }

  function routeOf(to) {
    if (to === undefined) return "pushed";
    if (to.kind === "user") return to.name === me ? "pushed to you" : `pushed to ${to.name}`;
    if (to.kind === "room") return `pushed to #${to.name}`;
    return "pushed to everyone";
  }

  // The form's pushes carry a Notice; one sent to the router's own endpoint (curl, another service)
  // carries whatever its sender chose: show that too, as text.
  function readNotice(data) {
    if (typeof data !== "object" || data === null) return { from: "a service", text: String(data), at: Date.now() };
    const text = typeof data.text === "string" ? data.text : JSON.stringify(data);
    const to = data.to && ["user", "room", "all"].includes(data.to.kind) ? data.to : undefined;
    const id = typeof data.id === "string" ? data.id : undefined;
    return {
      id,
      from: typeof data.from === "string" ? data.from : "a service",
      to,
      text,
      at: Number.isFinite(data.at) ? data.at : Date.now(),
    };
  }

  // Ids of the notices in the feed: one push shows once, whether it came as a recipient or as the sender.
  const shownNotices = new Set();

  function addNotice({ id, from, to, text, at }) {
    if (id !== undefined) {
      if (shownNotices.has(id)) return;
      shownNotices.add(id);
      if (shownNotices.size > 500) shownNotices.delete(shownNotices.values().next().value);
    }
    const item = document.createElement("li");
    item.className = "notice";
    item.dataset.kind = "push";
    item.dataset.target = to === undefined ? "other" : to.kind;
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    const route = document.createElement("span");
    route.className = "route";
    route.textContent = routeOf(to);
    const body = document.createElement("p");
    body.className = "text";
    body.textContent = text;
    item.append(who, " ", route, " ", timeOf(at), body);
    appendToFeed(item);
  }

  // Sent by the push router with `ack`: acknowledging is what lets the sender see "acknowledged".
  socket.on("notice", (data, ack) => {
    addNotice(readNotice(data));
    if (typeof ack === "function") ack("seen");
  });

  socket.on("chat:message", addMessage);

  $("chat").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (text === "") return;
    // Only the text goes up; who sent it is the server's to say.
    socket.timeout(5000).emit("chat:send", { text }, (err, reply) => {
      const problem = err ? "No answer from the server." : reply.ok ? null : reply.error;
      $("chat-error").hidden = problem === null;
      $("chat-error").textContent = problem ?? "";
      if (problem === null) input.value = "";
    });
  });

  // A refused tab waits for you; when you come back to it (maybe after logging in in another tab), it
  // tries again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && $("state").dataset.state === "refused") rehandshake();
  });

  showTargetFields();
  void refreshAccount();
  setState("connecting", "connecting…");
  socket.connect();
})();

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
    BAD_SIGNATURE: "The cookie's signature does not verify (was the server restarted with another secret?): log in again.",
    MALFORMED_COOKIE: "The session cookie is not in express-session's format: log in again.",
    ORIGIN_NOT_ALLOWED: "This page's origin may not open sockets on this server.",
    FORBIDDEN: "The server's policy refused this socket.",
    STORE_UNAVAILABLE: "The session store did not answer: retrying shortly.",
  };

  const socket = io({ autoConnect: false });
  let me = null; // the user id the server gave this socket, never what the page typed
  let retryTimer;

  function setState(kind, text) {
    $("state").dataset.state = kind;
    $("state-text").textContent = text;
    const usable = kind === "connected";
    $("text").disabled = !usable;
    $("chat").querySelector("button").disabled = !usable;
  }

  function logEvent(text, tone) {
    const item = document.createElement("li");
    item.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    if (tone) item.className = tone;
    const list = $("events");
    list.prepend(item);
    while (list.children.length > 12) list.lastElementChild.remove();
  }

  let accountShown = 0; // bumped on every update, so an answer that was overtaken is dropped

  function showAccount(user) {
    accountShown++;
    $("login").hidden = user !== null;
    $("signed-in").hidden = user === null;
    $("http-user").textContent = user ?? "";
  }

  async function refreshAccount() {
    const asked = accountShown;
    try {
      const res = await fetch("/api/me", { headers: { accept: "application/json" }, cache: "no-store" });
      const { user } = await res.json();
      if (asked === accountShown) showAccount(user);
    } catch {
      // The server is away; the connection state already says so.
    }
  }

  // The server reads the cookie from the handshake that opened the connection, so after logging in or
  // out the socket must open a new connection (not just reconnect the namespace over the old one).
  function rehandshake() {
    clearTimeout(retryTimer);
    socket.disconnect();
    setState("connecting", "connecting…");
    socket.connect();
  }

  socket.on("connect", () => {
    setState("connecting", "connected, waiting for the server to say who…");
    $("refusal").textContent = "nothing";
    logEvent("connect", "ok");
  });

  socket.on("welcome", ({ userId, history }) => {
    me = userId;
    setState("connected", `connected as ${userId}`);
    $("socket-user").textContent = userId;
    logEvent(`welcome: the server says this socket is ${userId}`, "ok");
    $("messages").replaceChildren();
    for (const message of history) addMessage(message);
    void refreshAccount(); // another tab may have logged in as someone else
  });

  socket.on("connect_error", (err) => {
    const code = err.data && err.data.code;
    if (code) {
      // Refused by sessionAuth: err.message is the code, err.data is { code, retryable }.
      setState("refused", `refused: ${code}`);
      const why = document.createElement("span");
      why.className = "why";
      why.textContent = EXPLAIN[code] ?? "";
      $("refusal").replaceChildren(err.message, why);
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
  }

  socket.on("online", (users) => showOnline(users, "nobody"));

  socket.on("chat:message", addMessage);

  function addMessage({ from, text, at }) {
    const item = document.createElement("li");
    if (from === me) item.classList.add("mine");
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    const when = document.createElement("time");
    when.dateTime = new Date(at).toISOString();
    when.textContent = new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const body = document.createElement("p");
    body.className = "text";
    body.textContent = text;
    item.append(who, when, body);
    const list = $("messages");
    list.append(item);
    while (list.children.length > 200) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
    $("chat-empty").hidden = true;
  }

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

  async function post(form) {
    const res = await fetch(form.action, {
      method: "POST",
      headers: { accept: "application/json" },
      body: new URLSearchParams(new FormData(form)),
    });
    return res.json();
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reply = await post(event.currentTarget).catch(() => ({ ok: false, error: "The server did not answer." }));
    $("login-error").hidden = reply.ok;
    $("login-error").textContent = reply.ok ? "" : reply.error;
    if (!reply.ok) return;
    showAccount(reply.user);
    rehandshake();
  });

  $("logout").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reply = await post(event.currentTarget).catch(() => ({ ok: false }));
    if (!reply.ok) return;
    showAccount(null);
    // Try again with the same cookie, as a page would after a blip: the server refuses it.
    rehandshake();
  });

  $("reconnect").addEventListener("click", rehandshake);

  // A refused tab waits for you; when you come back to it (maybe after logging in in another tab), it
  // tries again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && $("state").dataset.state === "refused") rehandshake();
  });

  void refreshAccount();
  setState("connecting", "connecting…");
  socket.connect();
})();

import type { Server, Socket } from "socket.io";
import { sessionRoom, userRoom } from "socket.io-session-auth";
import { DEMO_ROOMS, isDemoRoom, roomOf, type DemoRoom, type Notice } from "./protocol.js";
import type { DemoSession } from "./web.js";

/** One chat line. `from` is the sender's user id as the server read it from the session. */
export interface ChatMessage {
  id: number;
  from: string;
  text: string;
  /** ms since the epoch, server clock. */
  at: number;
}

export interface Welcome {
  userId: string;
  loggedInAt: number | null;
  history: ChatMessage[];
  /** The rooms this socket joined at its handshake: its session's. */
  rooms: DemoRoom[];
}

/** Who is in each demo room (user ids, each once, sorted). */
export type RoomMembers = Array<{ room: DemoRoom; members: string[] }>;

export type ChatReply = { ok: true; id: number } | { ok: false; error: string };

export interface ServerToClientEvents {
  /** Sent once, on connect: who the server says this socket belongs to. */
  welcome(welcome: Welcome): void;
  "chat:message"(message: ChatMessage): void;
  /** Sent to `user:<id>` only: how many sockets (tabs) that user has open. */
  tabs(status: { count: number }): void;
  online(users: Array<{ userId: string; tabs: number }>): void;
  /** To everyone, whenever a room's members change. */
  rooms(rooms: RoomMembers): void;
  /** Sent to `session:<hash>` only: the session's rooms changed (in this tab or another). */
  "rooms:mine"(rooms: DemoRoom[]): void;
  /** Emitted by the push router (`push.send`), never by this file; acknowledged by the page. */
  notice(notice: Notice, ack: (seen: "seen") => void): void;
}

export interface ClientToServerEvents {
  /** Anything but `text` in the payload is ignored: the sender is never taken from the client. */
  "chat:send"(payload: unknown, ack: (reply: ChatReply) => void): void;
  whoami(ack: (me: { userId: string; loggedInAt: number | null }) => void): void;
}

/** What `sessionAuth` puts on every socket it admits. */
export interface DemoSocketData {
  session: DemoSession;
  userId: string | null;
}

export type DemoServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, DemoSocketData>;
type DemoSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, DemoSocketData>;

const MAX_TEXT = 500;
const HISTORY = 50;
// Per socket: enough to chat, too few to flood every other tab.
const BURST = 8;
const BURST_WINDOW_MS = 10_000;

export interface Live {
  /** A session joined or left rooms over HTTP: its open sockets (every tab) follow, and everyone sees the members. */
  setSessionRooms(sessionId: string, rooms: readonly DemoRoom[]): void;
}

/**
 * The live side: a chat where each line carries the sender from the server-side session, per-user
 * notices to `user:<id>`, who is online, and the rooms each session joined. Every socket here already
 * passed `sessionAuth`.
 */
export function attachLive(io: DemoServer): Live {
  const history: ChatMessage[] = [];
  let nextId = 1;

  async function announceRooms(): Promise<void> {
    const rooms: RoomMembers = await Promise.all(
      DEMO_ROOMS.map(async (room) => {
        const sockets = await io.in(roomOf(room)).fetchSockets();
        const members = new Set<string>();
        for (const each of sockets) if (typeof each.data.userId === "string") members.add(each.data.userId);
        return { room, members: [...members].sort((a, b) => a.localeCompare(b)) };
      }),
    );
    io.emit("rooms", rooms);
  }

  async function announcePresence(userId: string): Promise<void> {
    // fetchSockets asks the adapter, so the counts stay right with several nodes (a Redis adapter).
    const sockets = await io.fetchSockets();
    const tabs = new Map<string, number>();
    for (const each of sockets) {
      const id = each.data.userId;
      if (id !== null && id !== undefined) tabs.set(id, (tabs.get(id) ?? 0) + 1);
    }
    io.to(userRoom(userId)).emit("tabs", { count: tabs.get(userId) ?? 0 });
    const online = [...tabs].map(([id, count]) => ({ userId: id, tabs: count }));
    online.sort((a, b) => a.userId.localeCompare(b.userId));
    io.emit("online", online);
  }

  io.on("connection", (socket: DemoSocket) => {
    const userId = socket.data.userId;
    // The demo refuses anonymous sessions (the default), so this is only a type guard.
    if (userId === null) {
      socket.disconnect(true);
      return;
    }
    const loggedInAt = socket.data.session.loggedInAt ?? null;
    // The session as the web app last saved it, read by sessionAuth at this handshake.
    const rooms = (socket.data.session.rooms ?? []).filter(isDemoRoom);
    void socket.join(rooms.map(roomOf));
    socket.emit("welcome", { userId, loggedInAt, history: history.slice(), rooms });
    void announcePresence(userId);
    void announceRooms();

    const sent: number[] = [];
    socket.on("chat:send", (payload, ack) => {
      if (typeof ack !== "function") return;
      const text = typeof payload === "object" && payload !== null ? (payload as { text?: unknown }).text : undefined;
      if (typeof text !== "string" || text.trim() === "") return ack({ ok: false, error: "Say something first." });
      if (text.length > MAX_TEXT) return ack({ ok: false, error: `At most ${MAX_TEXT} characters.` });
      const now = Date.now();
      while (sent.length > 0 && now - sent[0]! > BURST_WINDOW_MS) sent.shift();
      if (sent.length >= BURST) return ack({ ok: false, error: "Slow down a little." });
      sent.push(now);
      const message: ChatMessage = { id: nextId++, from: userId, text: text.trim(), at: now };
      history.push(message);
      if (history.length > HISTORY) history.shift();
      io.emit("chat:message", message);
      ack({ ok: true, id: message.id });
    });

    socket.on("whoami", (ack) => {
      if (typeof ack === "function") ack({ userId, loggedInAt });
    });

    socket.on("disconnect", () => {
      void announcePresence(userId);
      void announceRooms();
    });
  });

  return {
    setSessionRooms(sessionId, rooms) {
      // The session room reaches this session's sockets on every node; the raw id never names a room.
      const sockets = io.in(sessionRoom(sessionId));
      sockets.socketsLeave(DEMO_ROOMS.filter((room) => !rooms.includes(room)).map(roomOf));
      sockets.socketsJoin(rooms.map(roomOf));
      io.to(sessionRoom(sessionId)).emit("rooms:mine", [...rooms]);
      void announceRooms();
    },
  };
}

import "reflect-metadata";
import type { INestApplicationContext } from "@nestjs/common";
import { Controller, Get, Header, Module, Post, Req, Res } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import type { NestExpressApplication } from "@nestjs/platform-express";
import { IoAdapter } from "@nestjs/platform-socket.io";
import { ConnectedSocket, type OnGatewayConnection, SubscribeMessage, WebSocketGateway } from "@nestjs/websockets";
import type { Request, Response } from "express";
import session from "express-session";
import type { Server, ServerOptions, Socket } from "socket.io";
import { type SessionAuth, sessionAuth, type SessionSocketData } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

/** What this app keeps in its sessions (express-session's req.session gets the same field). */
interface AppSession {
  userId?: string;
}
declare module "express-session" {
  interface SessionData {
    userId?: string;
  }
}
/** A gateway's socket once sessionAuth accepted it: socket.data typed. */
type SessionSocket = Socket<
  Record<string, never>,
  Record<string, never>,
  Record<string, never>,
  SessionSocketData<AppSession>
>;

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore(); // in production: connect-redis, connect-mongo... (see Stores)

/**
 * The hook where sessionAuth goes: Nest creates the socket.io server through its WebSocket adapter.
 * Every namespace gets the middleware: "/" here, and each gateway's `namespace` when Nest creates it.
 */
class SessionIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly auth: SessionAuth<AppSession>,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const io: Server = super.createIOServer(port, options);
    io.use(this.auth);
    io.on("new_namespace", (namespace) => namespace.use(this.auth));
    return io;
  }
}

@WebSocketGateway()
class FeedGateway implements OnGatewayConnection {
  // Runs only for sockets sessionAuth accepted: a refused one never reaches the gateway.
  handleConnection(socket: SessionSocket) {
    socket.emit("hello", `you are ${socket.data.userId}`);
  }

  @SubscribeMessage("whoami")
  whoami(@ConnectedSocket() socket: SessionSocket) {
    return socket.data.userId; // the acknowledgement: "42"
  }
}

// A gateway on a namespace of its own gets the same middleware, through the adapter's new_namespace hook.
@WebSocketGateway({ namespace: "chat" })
class ChatGateway implements OnGatewayConnection {
  handleConnection(socket: SessionSocket) {
    socket.emit("hello", `${socket.data.userId} joined the chat`);
  }
}

@Controller()
class AuthController {
  @Post("login")
  login(@Req() req: Request, @Res() res: Response) {
    // A fresh session id at login (session fixation), then whatever your app checks.
    req.session.regenerate(() => {
      req.session.userId = "42";
      res.redirect(303, "/");
    });
  }

  @Get()
  @Header("content-type", "text/html")
  page() {
    return `<!doctype html><meta charset="utf-8"><title>Nest sessions</title>
<form method="post" action="/login"><button>Log in as 42</button></form>
<p id="status">connecting...</p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  socket.on("hello", (text) => (document.getElementById("status").textContent = text));
  socket.on("connect_error", (err) => (document.getElementById("status").textContent = "not connected: " + err.message));
</script>`;
  }
}

@Module({ controllers: [AuthController], providers: [FeedGateway, ChatGateway] })
class AppModule {}

async function bootstrap() {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: ["error", "warn"] });
  app.use(session({ store, secret, resave: false, saveUninitialized: false }));
  app.useWebSocketAdapter(
    new SessionIoAdapter(app, sessionAuth<AppSession>({ store: memoryStore<AppSession>(store), secret })),
  );
  await app.listen(Number(process.env.PORT ?? 3000));
  console.log(`listening on http://localhost:${app.getHttpServer().address().port}`);
}
void bootstrap();

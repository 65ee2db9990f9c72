import { MongoClient } from "mongodb";

const client = new MongoClient(process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017/app");

// #region mongo-encrypted
import MongoStore, { createWebCryptoAdapter } from "connect-mongo";
import { mongoStore } from "socket.io-session-auth/mongo";

// The same adapter (same secret) on both sides.
const sessionCrypto = createWebCryptoAdapter({ secret: process.env.SESSION_CRYPTO_SECRET ?? "dev only" });

// Web side: connect-mongo encrypts the session field.
const webStore = MongoStore.create({ client, cryptoAdapter: sessionCrypto });

// Realtime side: decrypt, then parse the JSON connect-mongo encrypted.
const store = mongoStore({
  db: client.db(),
  unserialize: async (stored) => JSON.parse(await sessionCrypto.decrypt(String(stored))),
});
// #endregion mongo-encrypted

export { client, store, webStore };

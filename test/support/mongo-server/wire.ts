import { deserialize, Long, serialize, type Document } from "bson";

// The MongoDB wire protocol, as far as the Node driver uses it against a standalone server:
// https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

const HEADER_BYTES = 16;
/** The largest message the server accepts (what it advertises as maxMessageSizeBytes). */
export const MAX_MESSAGE_BYTES = 48_000_000;

const CHECKSUM_PRESENT = 1 << 0;
const MORE_TO_COME = 1 << 1;

/** A command as the server received it, whichever opcode carried it. */
export interface Request {
  requestId: number;
  opCode: typeof OP_MSG | typeof OP_QUERY;
  /** The database the command runs in (`$db`, or the `<db>.$cmd` of a legacy query). */
  db: string;
  /** The command document, with OP_MSG document sequences folded in under their identifiers. */
  body: Document;
  /** OP_MSG `moreToCome`: the client wants no reply (an unacknowledged write). */
  noReply: boolean;
}

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/** Splits a byte stream into whole messages (a message may arrive in pieces, or several in one chunk). */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** Adds bytes and returns every message now complete. Throws {@link ProtocolError} on a nonsensical length. */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const length = this.buffered.readInt32LE(0);
      if (length < HEADER_BYTES || length > MAX_MESSAGE_BYTES) throw new ProtocolError(`bad message length ${length}`);
      if (this.buffered.length < length) break;
      frames.push(this.buffered.subarray(0, length));
      this.buffered = this.buffered.subarray(length);
    }
    return frames;
  }
}

/** Decodes one whole message. Throws {@link ProtocolError} for opcodes the server does not speak. */
export function decodeRequest(frame: Buffer): Request {
  const requestId = frame.readInt32LE(4);
  const opCode = frame.readInt32LE(12);
  if (opCode === OP_MSG) return decodeMsg(frame, requestId);
  if (opCode === OP_QUERY) return decodeQuery(frame, requestId);
  // OP_COMPRESSED only follows a compressor negotiated in the handshake, and this server offers none.
  throw new ProtocolError(`unsupported opcode ${opCode}`);
}

function decodeMsg(frame: Buffer, requestId: number): Request {
  const flags = frame.readUInt32LE(HEADER_BYTES);
  const end = frame.length - (flags & CHECKSUM_PRESENT ? 4 : 0);
  let offset = HEADER_BYTES + 4;
  let body: Document | undefined;
  const sequences: Array<[string, Document[]]> = [];
  while (offset < end) {
    const kind = frame[offset];
    offset += 1;
    if (kind === 0) {
      const size = frame.readInt32LE(offset);
      body = deserialize(frame.subarray(offset, offset + size));
      offset += size;
    } else if (kind === 1) {
      const size = frame.readInt32LE(offset);
      const sectionEnd = offset + size;
      const nameEnd = frame.indexOf(0, offset + 4);
      const identifier = frame.toString("utf8", offset + 4, nameEnd);
      const documents: Document[] = [];
      for (let at = nameEnd + 1; at < sectionEnd;) {
        const docSize = frame.readInt32LE(at);
        documents.push(deserialize(frame.subarray(at, at + docSize)));
        at += docSize;
      }
      sequences.push([identifier, documents]);
      offset = sectionEnd;
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${String(kind)}`);
    }
  }
  if (body === undefined) throw new ProtocolError("OP_MSG without a body section");
  for (const [identifier, documents] of sequences) body[identifier] = documents;
  const db = typeof body.$db === "string" ? body.$db : "admin";
  return { requestId, opCode: OP_MSG, db, body, noReply: (flags & MORE_TO_COME) !== 0 };
}

function decodeQuery(frame: Buffer, requestId: number): Request {
  let offset = HEADER_BYTES + 4; // skip the flags
  const nameEnd = frame.indexOf(0, offset);
  const namespace = frame.toString("utf8", offset, nameEnd);
  offset = nameEnd + 1 + 8; // numberToSkip, numberToReturn
  const size = frame.readInt32LE(offset);
  let body = deserialize(frame.subarray(offset, offset + size));
  // Legacy commands may come wrapped for a read preference: { $query: { isMaster: 1 }, $readPreference }.
  if (typeof body.$query === "object" && body.$query !== null) body = body.$query as Document;
  if (!namespace.endsWith(".$cmd")) throw new ProtocolError(`OP_QUERY on ${namespace}: only commands are supported`);
  return { requestId, opCode: OP_QUERY, db: namespace.slice(0, -".$cmd".length), body, noReply: false };
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES);
  bytes.writeInt32LE(length, 0);
  bytes.writeInt32LE(requestId, 4);
  bytes.writeInt32LE(responseTo, 8);
  bytes.writeInt32LE(opCode, 12);
  return bytes;
}

/** Encodes the reply to `request` in the opcode the request came in: OP_MSG, or OP_REPLY for a legacy query. */
export function encodeReply(request: Request, requestId: number, reply: Document): Buffer {
  const document = serialize(reply);
  if (request.opCode === OP_MSG) {
    const flags = Buffer.alloc(5); // flagBits = 0, then section kind 0
    return Buffer.concat([
      header(HEADER_BYTES + flags.length + document.length, requestId, request.requestId, OP_MSG),
      flags,
      document,
    ]);
  }
  const fields = Buffer.alloc(20); // responseFlags, cursorID, startingFrom, numberReturned
  fields.writeInt32LE(0, 0);
  fields.writeBigInt64LE(0n, 4);
  fields.writeInt32LE(0, 12);
  fields.writeInt32LE(1, 16);
  return Buffer.concat([
    header(HEADER_BYTES + fields.length + document.length, requestId, request.requestId, OP_REPLY),
    fields,
    document,
  ]);
}

/** Encodes a request (for the server's own tests, which speak the protocol without a driver). */
export function encodeMsgRequest(
  requestId: number,
  body: Document,
  options: { moreToCome?: boolean; sequences?: Record<string, Document[]> } = {},
): Buffer {
  const parts: Uint8Array[] = [];
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE(options.moreToCome ? MORE_TO_COME : 0, 0);
  parts.push(flags, Buffer.from([0]), serialize(body));
  for (const [identifier, documents] of Object.entries(options.sequences ?? {})) {
    const encoded = documents.map((document) => serialize(document));
    const name = Buffer.from(`${identifier}\0`, "utf8");
    const size = Buffer.alloc(4);
    size.writeInt32LE(4 + name.length + encoded.reduce((sum, each) => sum + each.length, 0), 0);
    parts.push(Buffer.from([1]), size, name, ...encoded);
  }
  const length = HEADER_BYTES + parts.reduce((sum, each) => sum + each.length, 0);
  return Buffer.concat([header(length, requestId, 0, OP_MSG), ...parts]);
}

/** Decodes a reply's document (OP_MSG or OP_REPLY), for the same tests. */
export function decodeReply(frame: Buffer): { responseTo: number; opCode: number; body: Document } {
  const responseTo = frame.readInt32LE(8);
  const opCode = frame.readInt32LE(12);
  const start = opCode === OP_MSG ? HEADER_BYTES + 5 : HEADER_BYTES + 20;
  return { responseTo, opCode, body: deserialize(frame.subarray(start)) };
}

/** A cursor id as the driver expects it on the wire: always an int64. */
export const cursorId = (id: bigint): Long => Long.fromBigInt(id);

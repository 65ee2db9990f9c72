/**
 * A string of its own, flat: V8 keeps a slice's whole parent alive (a session id cut out of the decoded
 * cookie with its signature; a session key sliced from a 64-digit hex digest), and a string built by `+`
 * keeps its parts. For what is kept as long as a session is followed (the lifecycle's entry, the room
 * names a read's sockets join), not per handshake. `Array#join` of two parts writes a new sequential
 * string (a slice shorter than 13 characters is a copy too): a third of a JSON round trip's cost.
 */
export function ownString(value: string): string {
  // V8 makes neither a slice nor a concatenation shorter than 13 characters (ConsString::kMinLength,
  // SlicedString::kMinLength): such a string is already a copy of its own (a user id such as "42").
  return value.length < 13 ? value : [value.charAt(0), value.slice(1)].join("");
}

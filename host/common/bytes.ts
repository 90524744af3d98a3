// Byte chunks without Buffer (the web entry has none).

/** `parts` joined into one new chunk of `total` bytes (their summed length). */
export function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

// A raw HTTP/1.1 client on a net.Socket: to stop reading (a slow client) or to see the
// exact chunks of a chunked response.
import { connect, type Socket } from "node:net";

export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far, head and body, as text. */
  text(): string;
  /** The body's chunks of the chunked transfer coding, decoded, in order. */
  chunks(): string[];
  closed: Promise<void>;
}

export function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (received += d));
    socket.on("error", () => {});
    socket.once("connect", () => {
      // Connection: close, so the end of the response is the end of the socket.
      const lines = [`GET ${path} HTTP/1.1`, "Host: 127.0.0.1", "Accept: text/event-stream", "Connection: close"];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(lines.join("\r\n") + "\r\n\r\n");
      resolve({ socket, text: () => received, chunks: () => dechunk(received), closed });
    });
    socket.once("error", reject);
  });
}

function dechunk(raw: string): string[] {
  const start = raw.indexOf("\r\n\r\n");
  if (start < 0) return [];
  const out: string[] = [];
  let p = start + 4;
  while (p < raw.length) {
    const eol = raw.indexOf("\r\n", p);
    if (eol < 0) break;
    const size = parseInt(raw.slice(p, eol), 16);
    if (!(size > 0) || eol + 2 + size > raw.length) break;
    out.push(Buffer.from(raw.slice(eol + 2, eol + 2 + size), "latin1").toString("utf8"));
    p = eol + 2 + size + 2;
  }
  return out;
}

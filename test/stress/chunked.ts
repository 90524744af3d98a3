// An incremental reader of one HTTP/1.1 response with a chunked body, for raw-socket clients
// that must see the status, every body byte as it arrives, and whether the terminating chunk
// came (a stream that the server ended) or not (a stream that was cut).

export class ChunkedResponse {
  status = 0;
  /** The terminating zero-size chunk arrived. */
  ended = false;
  /** The bytes did not parse as a chunked HTTP/1.1 response. */
  malformed: string | undefined;
  private state: "head" | "size" | "data" | "crlf" | "done" = "head";
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;

  constructor(private readonly onBody: (bytes: Buffer) => void) {}

  push(data: Buffer): void {
    let buf = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    for (;;) {
      if (this.state === "head") {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) break;
        const head = buf.subarray(0, end).toString("latin1");
        this.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
        if (!/\r\ntransfer-encoding: *chunked/i.test(head)) return this.fail(`not chunked: ${head.split("\r\n")[0]}`);
        buf = buf.subarray(end + 4);
        this.state = "size";
      } else if (this.state === "size") {
        const eol = buf.indexOf("\r\n");
        if (eol < 0) break;
        const size = parseInt(buf.subarray(0, eol).toString("latin1"), 16);
        if (!(size >= 0)) return this.fail("bad chunk size");
        buf = buf.subarray(eol + 2);
        this.remaining = size;
        this.state = size === 0 ? "done" : "data";
        if (size === 0) this.ended = true;
      } else if (this.state === "data") {
        if (buf.length === 0) break;
        const n = Math.min(this.remaining, buf.length);
        this.onBody(buf.subarray(0, n));
        buf = buf.subarray(n);
        this.remaining -= n;
        if (this.remaining === 0) this.state = "crlf";
      } else if (this.state === "crlf") {
        if (buf.length < 2) break;
        if (buf[0] !== 13 || buf[1] !== 10) return this.fail("no CRLF after a chunk");
        buf = buf.subarray(2);
        this.state = "size";
      } else {
        if (buf.length > 2) return this.fail("bytes after the last chunk");
        break;
      }
    }
    // Copied: a slice would pin the socket's whole read buffer.
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  private fail(why: string): void {
    this.malformed ??= why;
    this.state = "done";
    this.pending = Buffer.alloc(0);
  }
}

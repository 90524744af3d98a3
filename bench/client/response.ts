// Reads one HTTP/1.1 response from raw socket bytes: checks the status line, then hands
// the body, with chunked transfer coding removed, to `onBody`. Hand-rolled so the client
// spends its time counting events, not in a general-purpose HTTP stack.

const CRLFCRLF = Buffer.from("\r\n\r\n");
const LF = 0x0a;

type State = "head" | "size" | "data" | "data-end" | "identity";

export class ResponseReader {
  status = 0;
  private state: State = "head";
  private head: Buffer = Buffer.alloc(0);
  private sizeText = "";
  private remaining = 0;

  constructor(private readonly onBody: (bytes: Buffer) => void) {}

  /** True once the status line and headers have arrived. */
  get headersDone(): boolean {
    return this.state !== "head";
  }

  feed(buf: Buffer): void {
    let p = 0;
    if (this.state === "head") {
      this.head = this.head.length === 0 ? buf : Buffer.concat([this.head, buf]);
      const end = this.head.indexOf(CRLFCRLF);
      if (end === -1) return;
      this.parseHead(this.head.subarray(0, end).toString("latin1"));
      buf = this.head;
      p = end + 4;
      this.head = Buffer.alloc(0);
    }
    while (p < buf.length) {
      switch (this.state) {
        case "identity":
          this.onBody(p === 0 ? buf : buf.subarray(p));
          return;
        case "size": {
          // "1a3f[;ext]\r\n": collect up to the LF, then read the hex digits.
          const lf = buf.indexOf(LF, p);
          const stop = lf === -1 ? buf.length : lf;
          this.sizeText += buf.toString("latin1", p, stop);
          if (lf === -1) return;
          p = lf + 1;
          const size = parseInt(this.sizeText, 16);
          if (!Number.isFinite(size)) throw new Error(`bad chunk size line ${JSON.stringify(this.sizeText)}`);
          this.sizeText = "";
          this.remaining = size;
          this.state = size === 0 ? "data-end" : "data";
          break;
        }
        case "data": {
          const take = Math.min(this.remaining, buf.length - p);
          this.onBody(buf.subarray(p, p + take));
          p += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = "data-end";
          break;
        }
        case "data-end": {
          // The CRLF after a chunk's data (trailers after the last chunk are not used by SSE).
          const lf = buf.indexOf(LF, p);
          if (lf === -1) return;
          p = lf + 1;
          this.state = "size";
          break;
        }
        case "head":
          throw new Error("unreachable");
      }
    }
  }

  private parseHead(text: string): void {
    const [statusLine, ...lines] = text.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "");
    if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
    this.status = Number(m[1]);
    if (this.status !== 200) throw new Error(`status ${this.status}`);
    const chunked = lines.some((l) => /^transfer-encoding:\s*chunked\s*$/i.test(l));
    this.state = chunked ? "size" : "identity";
  }
}

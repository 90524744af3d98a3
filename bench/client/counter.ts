// The fast event counter: an SSE event ends with a blank line, so on streams whose lines
// end in LF every "\n\n" is one event. It scans with Buffer.indexOf (memchr) and keeps one
// bit across chunks, so it costs next to nothing per byte. eventsource-parser checks it
// once per run (verify.ts).

const LF = 0x0a;

export class EventCounter {
  events = 0;
  bytes = 0;
  /** The last byte seen was an LF that has not yet closed an event. */
  private armed = false;

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    let armed = this.armed;
    let p = 0;
    let i: number;
    while ((i = chunk.indexOf(LF, p)) !== -1) {
      if (armed && i === p) {
        this.events++;
        armed = false;
      } else {
        armed = true;
      }
      p = i + 1;
    }
    this.armed = armed && p === chunk.length;
  }
}

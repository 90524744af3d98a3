// UTF-8 encoding into staging. TextEncoder.encodeInto writes at the start of the view it is
// given, and making that view (a subarray) costs as much as the encoding of a short text, so
// views are kept, one per recently used start offset. Writers stage at a few recurring
// offsets (data after an event name, a string after the same members), so a small
// direct-mapped table catches nearly all of them.

const encoder = new TextEncoder();
/** Table entries; a power of two. */
const ENTRIES = 16;

export class EncodeViews {
  private readonly starts = new Int32Array(ENTRIES).fill(-1);
  private readonly views: Uint8Array[] = [];

  /** Encodes into memory [start, end); the `end` is fixed for this table's life. */
  constructor(private readonly memory: Uint8Array, private readonly end: number) {}

  /** Encodes `text` as UTF-8 at `start` (up to the table's end); returns what encodeInto says. */
  encode(text: string, start: number): TextEncoderEncodeIntoResult {
    const slot = start & (ENTRIES - 1);
    let view = this.views[slot];
    if (this.starts[slot] !== start || view === undefined) {
      view = this.memory.subarray(start, this.end);
      this.views[slot] = view;
      this.starts[slot] = start;
    }
    return encoder.encodeInto(text, view);
  }
}

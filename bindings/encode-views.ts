// UTF-8 encoding into staging. TextEncoder.encodeInto writes at the start of the view it is
// given, and making that view (a subarray) costs as much as the encoding of a short text, so
// views are kept, one per recently used [start, end). Writers stage at a few recurring
// offsets (data after an event name, a string after the same members), so a small
// direct-mapped table catches nearly all of them.

const encoder = new TextEncoder();
/** Table entries; a power of two. */
const ENTRIES = 16;

export class EncodeViews {
  private readonly starts = new Int32Array(ENTRIES).fill(-1);
  private readonly ends = new Int32Array(ENTRIES);
  private readonly views: Uint8Array[] = [];

  constructor(private readonly memory: Uint8Array) {}

  /** Encodes `text` as UTF-8 into memory [start, end); returns what encodeInto says. */
  encode(text: string, start: number, end: number): TextEncoderEncodeIntoResult {
    const slot = start & (ENTRIES - 1);
    let view = this.views[slot];
    if (view === undefined || this.starts[slot] !== start || this.ends[slot] !== end) {
      view = this.memory.subarray(start, end);
      this.views[slot] = view;
      this.starts[slot] = start;
      this.ends[slot] = end;
    }
    return encoder.encodeInto(text, view);
  }
}

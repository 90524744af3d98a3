// The frames one channel broadcast during one turn of the event loop. A subscriber queues a
// run of them as a Segment (one object, however many frames); at the flush the batch is
// joined once and every subscriber that got all of it writes the same shared chunk, and one
// that got a contiguous part writes a view of it: no per-subscriber copy or concat.
//
// Once joined the batch is sealed: the channel starts a new one for its next frame.
import { concat } from "./bytes.js";

export class Batch {
  private frames: Uint8Array[] = [];
  /** Where frame i starts in the joined chunk; offsets[count] is the total. */
  private readonly offsets: number[] = [0];
  private joined: Uint8Array | undefined;

  get sealed(): boolean {
    return this.joined !== undefined;
  }

  /** Appends a frame (shared, never modified); returns its index. */
  add(frame: Uint8Array): number {
    if (this.joined !== undefined) throw new Error("a sealed batch takes no more frames");
    this.frames.push(frame);
    this.offsets.push(this.offsets[this.offsets.length - 1]! + frame.length);
    return this.frames.length - 1;
  }

  /** Frames [from, to) as one chunk: the shared join itself when that is all of them, else a view into it. */
  range(from: number, to: number): Uint8Array {
    const joined = (this.joined ??= this.join());
    if (from === 0 && to === this.offsets.length - 1) return joined;
    return joined.subarray(this.offsets[from], this.offsets[to]);
  }

  private join(): Uint8Array {
    const frames = this.frames;
    this.frames = []; // the joined copy replaces them
    return frames.length === 1 ? frames[0]! : concat(frames, this.offsets[this.offsets.length - 1]!);
  }
}

/** Frames [from, to) of a batch, queued for one subscriber. */
export class Segment {
  constructor(
    readonly batch: Batch,
    readonly from: number,
    public to: number,
  ) {}

  bytes(): Uint8Array {
    return this.batch.range(this.from, this.to);
  }
}

// What a channel's filters need to judge a replayed event: the data and options each recorded
// event was sent with. The frames themselves live in the core's history; this keeps the
// newest `capacity` (the history's maxEvents) inputs beside them, in fixed arrays, so the
// core's history position i of n maps to the input pushed n - i pushes ago.
import type { SendOptions } from "../../bindings/index.js";

export class EventLog {
  private readonly data: unknown[];
  private readonly options: SendOptions[];
  private pushed = 0;

  constructor(private readonly capacity: number) {
    this.data = new Array<unknown>(capacity);
    this.options = new Array<SendOptions>(capacity);
  }

  /** Call once for every event the core recorded, in order. */
  push(data: unknown, options: SendOptions): void {
    const at = this.pushed++ % this.capacity;
    this.data[at] = data;
    this.options[at] = options;
  }

  /** The inputs of history position `i` (0: oldest) while the history holds `count` events. */
  at(i: number, count: number): { data: unknown; options: SendOptions } {
    const at = (this.pushed - count + i) % this.capacity;
    return { data: this.data[at], options: this.options[at]! };
  }

  /** The history was lost (a fresh core): forget the inputs too, so memory is released. */
  clear(): void {
    this.data.fill(undefined);
    this.options.fill({});
    this.pushed = 0;
  }
}

// The correctness check: eventsource-parser (the parser the `eventsource` package uses)
// reads the same body bytes as the counter, and every event must be event i of the stream,
// in order, with its name.
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import { eventName, reading } from "../event.js";

export interface Verdict {
  /** Events eventsource-parser dispatched. */
  parserEvents: number;
  /** Events the byte counter saw in the same bytes. */
  counterEvents: number;
  /** The first mismatches (empty when the stream is correct). */
  failures: string[];
}

export class StreamCheck {
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();
  private next = 0;
  private readonly failures: string[] = [];

  constructor() {
    this.parser = createParser({
      onEvent: (e) => this.check(e),
      onError: (err) => this.fail(`parser error: ${err.message}`),
    });
  }

  feed(bytes: Buffer): void {
    this.parser.feed(this.decoder.decode(bytes, { stream: true }));
  }

  verdict(counterEvents: number): Verdict {
    const failures = [...this.failures];
    if (counterEvents !== this.next) failures.push(`counter saw ${counterEvents} events, eventsource-parser ${this.next}`);
    return { parserEvents: this.next, counterEvents, failures };
  }

  private check(e: EventSourceMessage): void {
    const i = this.next++;
    const want = reading(i);
    let got: unknown;
    try {
      got = JSON.parse(e.data);
    } catch {
      return this.fail(`event ${i}: data is not JSON: ${JSON.stringify(e.data)}`);
    }
    const g = got as Partial<typeof want>;
    if (g.counter !== want.counter || g.name !== want.name || g.value !== want.value || Object.keys(g).length !== 3) {
      this.fail(`event ${i}: data ${e.data}, want ${JSON.stringify(want)}`);
    }
    const name = eventName(i);
    const ok = name === undefined ? e.event === undefined || e.event === "message" : e.event === name;
    if (!ok) this.fail(`event ${i}: type ${JSON.stringify(e.event)}, want ${JSON.stringify(name ?? "message")}`);
  }

  private fail(msg: string): void {
    if (this.failures.length < 5) this.failures.push(msg);
  }
}

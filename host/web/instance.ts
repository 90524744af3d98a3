// One core instance under Response streams: its connection slots' occupants, its clock and
// keep-alive timer, and what happens when it traps.
//
// Rules
// - The core frames the keep-alives (Engine keepAliveMs): the clock is set before each frame,
//   so a frame restarts its connection's keep-alive, and one unref'd timer per instance
//   fires at nextDeadline() (a little late, so deadlines close together share one tick).
// - A trap (WebAssembly.RuntimeError) from any call into the instance means its memory can no
//   longer be trusted: it is dropped (never handed out again), every stream on it ends
//   without another call into it, and the fault is reported once.
import { Engine, type Conn } from "../../bindings/index.js";
import { DeadlineTimer } from "../node/deadline-timer.js";
import { sseInstance } from "../node/wasm.js";

export interface CoreConfig {
  /** The largest event frame: each connection's outbound space. */
  readonly maxEventBytes: number;
  /** The core's keep-alive interval (0: off). */
  readonly keepAliveMs: number;
}

/** Told what a trap was; never throws. */
export type FaultReporter = (error: WebAssembly.RuntimeError) => void;

/** What holds a slot: a stream. */
export interface Occupant {
  /** The core framed a keep-alive comment into the stream's connection. */
  keepAliveDue(): void;
  /** The instance trapped and is gone: end without calling into it again. */
  engineFailed(): void;
  readonly reportFault: FaultReporter;
}

export interface WebSlot {
  readonly instance: Instance;
  readonly conn: Conn;
}

export class Instance {
  readonly engine: Engine;
  readonly occupants = new Map<Conn, Occupant>();
  private readonly timer: DeadlineTimer;
  private failed = false;

  constructor(
    readonly config: CoreConfig,
    slots: number,
    /** The instance trapped: its registry drops it. */
    private readonly onFailed: (instance: Instance) => void,
  ) {
    this.engine = new Engine(sseInstance(), { maxConnections: slots, outBytes: config.maxEventBytes, keepAliveMs: config.keepAliveMs });
    this.timer = new DeadlineTimer(config.keepAliveMs, () => performance.now(), () => this.fire());
  }

  /**
   * A connection for the occupant `occupy` builds. A Last-Event-ID the core refuses throws
   * its InvalidFieldError and uses no slot; undefined when the open trapped (`report` hears it).
   */
  open<O extends Occupant>(lastEventId: string | undefined, occupy: (slot: WebSlot) => O, report: FaultReporter): O | undefined {
    const conn = this.call(report, () => {
      this.setClock();
      return this.engine.open(lastEventId);
    });
    if (conn === undefined) return undefined;
    const occupant = occupy({ instance: this, conn });
    this.occupants.set(conn, occupant);
    // A new connection's deadline is now + keepAliveMs: no earlier than a timer already set.
    if (!this.timer.armed) this.arm();
    return occupant;
  }

  close(conn: Conn): void {
    if (!this.occupants.delete(conn)) return;
    this.call(undefined, () => this.engine.close(conn));
  }

  /** Frames for `culprit` with the clock set; undefined if the instance trapped (the culprit has ended). */
  frame<T>(culprit: Occupant, write: () => T): T | undefined {
    return this.call(culprit.reportFault, () => {
      this.setClock();
      return write();
    });
  }

  /** Runs calls into the core; a trap fails the instance (reported to `report`) and yields undefined. */
  call<T>(report: FaultReporter | undefined, calls: () => T): T | undefined {
    try {
      return calls();
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      this.fail(error, report);
      return undefined;
    }
  }

  private fail(error: WebAssembly.RuntimeError, report: FaultReporter | undefined): void {
    if (this.failed) return;
    this.failed = true;
    this.timer.clear();
    const ended = [...this.occupants.values()];
    this.occupants.clear();
    this.onFailed(this);
    for (const occupant of ended) occupant.engineFailed();
    (report ?? ended[0]?.reportFault ?? logFault)(error);
  }

  private setClock(): void {
    if (this.config.keepAliveMs > 0) this.engine.setNow(performance.now());
  }

  /** Sets the timer for the instance's earliest deadline. */
  private arm(): void {
    if (this.config.keepAliveMs === 0 || this.failed || this.occupants.size === 0) return;
    const deadline = this.call(undefined, () => this.engine.nextDeadline());
    if (deadline !== undefined) this.timer.at(deadline);
  }

  private fire(): void {
    if (this.occupants.size === 0) return;
    const due = this.call(undefined, () => this.engine.tick(performance.now())) ?? [];
    for (const conn of due) this.occupants.get(conn)?.keepAliveDue();
    this.arm();
  }
}

/** What a trap is reported with when nobody asked to hear it. */
export function logFault(error: unknown): void {
  console.error("sseResponse: a core instance trapped and was dropped; its streams ended:", error);
}

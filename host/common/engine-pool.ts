// The engines under a host's streams: one pool per withSse listener, one per
// configuration for sseResponse. A stream needs a slot (an engine and a connection in it); the
// pool adds an engine (same compiled module, its own memory) when every slot is taken, up to
// maxConnections. It also owns time: one unref'd timer for every keep-alive deadline of every
// engine.
//
// Rules
// - A frame's keep-alive deadline starts from the core's clock, so the pool sets the clock
//   (set_now, O(1)) before each frame; otherwise an active stream would get a keep-alive
//   between events.
// - One timer, fired a little late (slack) so deadlines that fall close together are served
//   by one tick instead of one wake-up each. Where a request's timers die with it (workerd),
//   the clock's end-of-turn reset and this timer may be lost: streams there call turnOver()
//   and revive() from their own request (host/web/response.ts).
// - A trap (WebAssembly.RuntimeError) from any call into an engine means its memory can no
//   longer be trusted: the engine is replaced by a fresh one with the same slots, every
//   stream on it ends without another call into it, and the fault is reported once.
// - Slots are counted in JS (a member's occupants), so opening a stream makes no call into
//   the engines it passes over. The first member with room is used, so streams pack into
//   the oldest engines and the newest empty out first.
// - The pool shrinks: an engine left without streams is released (every reference dropped, so
//   its linear memory is freed) once it has been empty RELEASE_AFTER_MS, but for one spare, so
//   a count of streams going back and forth across an engine's size does not make and free
//   engines over and over. Not at once: when a deploy or a failover cuts every stream, its
//   clients are back within seconds, and making their engines again cost a reconnect storm a
//   fifth of its CPU (bench W7). Where the release timer may die with a request (workerd), the
//   next stream to open or end, or revive(), releases what is overdue.
import { Engine, type Conn } from "../../bindings/index.js";
import { coreInstance } from "./core-module.js";
import { DeadlineTimer } from "./deadline-timer.js";
import { afterTurn } from "./turn.js";

/** A connection's own outbound space: a turn's worth of small events (SseStream takes more out as it fills). */
const CONN_OUT_BYTES = 8 * 1024;
/** How long empty engines are kept: longer than EventSource's reconnection delay (~3 s) and a storm's spread. */
const RELEASE_AFTER_MS = 10_000;

export interface Slot {
  readonly engine: Engine;
  readonly conn: Conn;
}

/** What holds a slot: a stream. */
export interface Occupant {
  /** The core framed its keep-alive comment: write it. */
  keepAliveDue(): void;
  /** Its engine trapped and is gone: end without calling into it again. */
  engineFailed(): void;
  /** Reports a trap (once per failed engine): this occupant's call met it, or it ended with it. */
  faulted(error: WebAssembly.RuntimeError): void;
  /** Bytes it holds for its client now (for stats). */
  readonly bytesBuffered: number;
}

interface Member {
  engine: Engine;
  readonly occupants: Map<Conn, Occupant>;
  /** When its last stream ended (the pool's clock); undefined while it has streams. */
  emptySince: number | undefined;
}

export interface PoolConfig {
  keepAliveMs: number;
  maxConnections: number;
  maxEventBytes: number;
  connectionsPerEngine: number;
}

export class EnginePool {
  private readonly members: Member[] = [];
  private readonly byEngine = new Map<Engine, Member>();
  private readonly epoch = performance.now();
  private capacity = 0;
  private readonly timer: DeadlineTimer;
  /** Set while engines beyond the spare are empty: releases them at releaseAt. */
  private release: ReturnType<typeof setTimeout> | undefined;
  private releaseAt = Infinity;
  /** Engines whose core clock was set in this turn of the event loop (cleared at its end). */
  private readonly clocked = new Set<Engine>();

  constructor(private readonly config: PoolConfig) {
    this.timer = new DeadlineTimer(config.keepAliveMs, () => this.now(), () => this.fire());
  }

  /** Connection slots in use. */
  get openConnections(): number {
    let open = 0;
    for (const m of this.members) open += m.occupants.size;
    return open;
  }

  /** Engines (core instances) now. */
  get engines(): number {
    return this.members.length;
  }

  /** What the occupants hold for their clients now: a walk over them, nothing allocated. */
  get bytesBuffered(): number {
    let bytes = 0;
    for (const m of this.members) for (const occupant of m.occupants.values()) bytes += occupant.bytesBuffered;
    return bytes;
  }

  /**
   * A slot for a new stream, which `occupy` builds; undefined when maxConnections are open
   * (or the engine trapped while opening: it is replaced, the next open succeeds). A
   * Last-Event-ID the core refuses (over 256 bytes, CR/LF/NUL) throws its InvalidFieldError
   * and uses no slot.
   */
  open<O extends Occupant>(lastEventId: string | undefined, occupy: (slot: Slot) => O): O | undefined {
    this.releaseOverdue();
    const member = this.members.find((m) => m.occupants.size < m.engine.maxConnections) ?? this.grow();
    if (member === undefined) return undefined;
    const { engine } = member;
    let conn: Conn;
    try {
      this.setClock(engine);
      conn = engine.open(lastEventId);
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError)) {
        // A Last-Event-ID the core refused: an engine grown for it has had no stream, so it is empty now.
        if (member.emptySince === undefined && member.occupants.size === 0) this.emptied(member);
        throw error;
      }
      this.fail(engine, error);
      return undefined;
    }
    const occupant = occupy({ engine, conn });
    member.occupants.set(conn, occupant);
    member.emptySince = undefined;
    // A new stream's deadline is now + keepAliveMs: no earlier than any timer already set.
    if (!this.timer.armed) this.arm();
    return occupant;
  }

  close(slot: Slot): void {
    const member = this.byEngine.get(slot.engine);
    if (member === undefined || !member.occupants.delete(slot.conn)) return;
    this.guard(slot.engine, undefined, () => slot.engine.close(slot.conn));
    if (member.occupants.size === 0 && this.byEngine.get(slot.engine) === member) this.emptied(member);
  }

  /** Call before framing into `engine`, so the frame's keep-alive deadline starts from now. */
  beforeFrame(engine: Engine): void {
    this.setClock(engine);
  }

  /** Bytes framed elsewhere (a broadcast) reached the slot's client: its keep-alive restarts. */
  touch(slot: Slot, occupant: Occupant): void {
    if (this.config.keepAliveMs === 0) return;
    try {
      this.setClock(slot.engine);
      slot.engine.touch(slot.conn);
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      this.fail(slot.engine, error, occupant);
    }
  }

  /**
   * For streams whose deferred work must run in their own request (workerd): this turn is over
   * (the per-turn clock is read afresh), and the keep-alive timer fires now if it was lost with
   * the request that armed it. Either may be called at any time; neither changes what is sent.
   */
  turnOver(): void {
    this.clocked.clear();
  }

  revive(): void {
    this.timer.revive();
    this.releaseOverdue();
  }

  /**
   * `engine` trapped: replace it, end every stream it held, report once. A second report
   * of the same engine (another of its streams met the trap too) does nothing.
   */
  fail(engine: Engine, error: WebAssembly.RuntimeError, culprit?: Occupant): void {
    const member = this.byEngine.get(engine);
    if (member === undefined) return;
    this.byEngine.delete(engine);
    const ended = [...member.occupants.values()];
    member.occupants.clear();
    member.engine = this.createEngine(engine.maxConnections);
    this.byEngine.set(member.engine, member);
    this.emptied(member); // its streams' close() no longer finds it by the old engine
    for (const occupant of ended) occupant.engineFailed();
    const reporter = culprit ?? ended[0];
    if (reporter !== undefined) reporter.faulted(error);
    else console.error("wasm-sse: a engine trapped and was replaced:", error);
  }

  /** Runs calls into `engine`; a trap fails it (see fail) instead of escaping. */
  private guard(engine: Engine, culprit: Occupant | undefined, calls: () => void): void {
    try {
      calls();
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      this.fail(engine, error, culprit);
    }
  }

  private grow(): Member | undefined {
    const room = this.config.maxConnections - this.capacity;
    if (room <= 0) return undefined;
    const member: Member = { engine: this.createEngine(Math.min(room, this.config.connectionsPerEngine)), occupants: new Map(), emptySince: undefined };
    this.members.push(member);
    this.byEngine.set(member.engine, member);
    this.capacity += member.engine.maxConnections;
    return member;
  }

  /** `member` has no stream left: it goes once it has been empty a while, unless it is the spare. */
  private emptied(member: Member): void {
    member.emptySince = this.now();
    if (!this.releaseOverdue() && this.release === undefined) this.scheduleRelease();
  }

  /** Releases what is due if the release timer died with its request (workerd); whether it did. */
  private releaseOverdue(): boolean {
    if (this.releaseAt === Infinity || this.now() < this.releaseAt) return false;
    this.trim();
    return true;
  }

  /** Releases every engine empty for RELEASE_AFTER_MS but the spare (the first empty one); then waits for the next. */
  private trim(): void {
    clearTimeout(this.release);
    this.release = undefined;
    this.releaseAt = Infinity;
    const now = this.now();
    let spareKept = false;
    for (const member of [...this.members]) {
      if (member.emptySince === undefined) continue;
      if (!spareKept) {
        spareKept = true;
        continue;
      }
      if (now - member.emptySince < RELEASE_AFTER_MS) continue;
      this.members.splice(this.members.indexOf(member), 1);
      this.byEngine.delete(member.engine);
      this.capacity -= member.engine.maxConnections;
    }
    this.scheduleRelease();
  }

  /** Arms the release timer for the engine (the spare aside) that has been empty longest, if any. */
  private scheduleRelease(): void {
    let spareSeen = false;
    let earliest = Infinity;
    for (const member of this.members) {
      if (member.emptySince === undefined) continue;
      if (spareSeen) earliest = Math.min(earliest, member.emptySince);
      spareSeen = true;
    }
    if (earliest === Infinity) return;
    this.releaseAt = earliest + RELEASE_AFTER_MS;
    this.release = setTimeout(() => this.trim(), Math.max(0, this.releaseAt - this.now()));
    (this.release as unknown as { unref?(): void }).unref?.(); // Node's and Bun's timers; a number elsewhere
  }

  private createEngine(maxConnections: number): Engine {
    const { maxEventBytes, keepAliveMs } = this.config;
    const outBytes = Math.min(CONN_OUT_BYTES, maxEventBytes);
    const wideBytes = maxEventBytes > outBytes ? maxEventBytes : undefined;
    return new Engine(coreInstance(), { maxConnections, outBytes, wideBytes, keepAliveMs });
  }

  private now(): number {
    return performance.now() - this.epoch;
  }

  /**
   * Sets the core's clock, once per engine per turn of the event loop: reading the time and
   * calling into the core for every send cost ~70 ns, a fifth of a send. A frame's keep-alive
   * deadline may then start up to one turn early.
   */
  private setClock(engine: Engine): void {
    if (this.config.keepAliveMs === 0 || this.clocked.has(engine)) return;
    engine.setNow(this.now());
    if (this.clocked.size === 0) afterTurn(() => this.clocked.clear());
    this.clocked.add(engine);
  }

  private tick(member: Member, now: number): void {
    const { engine } = member;
    let due: Conn[] = [];
    this.guard(engine, undefined, () => (due = engine.tick(now)));
    for (const conn of due) member.occupants.get(conn)?.keepAliveDue();
  }

  /** Sets the timer for the earliest deadline of every engine. */
  private arm(): void {
    if (this.config.keepAliveMs === 0) return;
    let deadline = Infinity;
    for (const m of this.members) {
      if (m.occupants.size === 0) continue;
      const { engine } = m;
      this.guard(engine, undefined, () => (deadline = Math.min(deadline, engine.nextDeadline())));
    }
    this.timer.at(deadline);
  }

  private fire(): void {
    const now = this.now();
    for (const m of this.members) if (m.occupants.size > 0) this.tick(m, now);
    this.arm();
  }
}

// Core instances for one withSse: a stream needs a connection slot, the pool adds an instance
// (same compiled module, its own memory) when every slot is taken, up to maxConnections.
// It also owns time: one unref'd timer for every keep-alive deadline of every instance.
//
// Rules
// - A frame's keep-alive deadline starts from the core's clock, so the pool sets the clock
//   (set_now, O(1)) before each frame; otherwise an active stream would get a keep-alive
//   between events.
// - One timer, fired a little late (slack) so deadlines that fall close together are served
//   by one tick instead of one wake-up each.
import { Engine, type Conn } from "../../bindings/index.js";
import { sseInstance } from "./wasm.js";

export interface Slot {
  readonly engine: Engine;
  readonly conn: Conn;
}

interface Member {
  readonly engine: Engine;
  /** Per open connection: what to call when its keep-alive comment is due. */
  readonly onKeepAlive: Map<Conn, () => void>;
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
  private readonly slackMs: number;
  private capacity = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(private readonly config: PoolConfig) {
    this.slackMs = Math.min(1000, config.keepAliveMs / 10);
  }

  /** Connection slots in use, as the core instances count them. */
  get openConnections(): number {
    let open = 0;
    for (const m of this.members) open += m.engine.openCount;
    return open;
  }

  /**
   * A slot for a new stream, or undefined when maxConnections are open. A Last-Event-ID the
   * core refuses (over 256 bytes, CR/LF/NUL) throws its InvalidFieldError and uses no slot.
   */
  open(lastEventId: string | undefined, onKeepAlive: () => void): Slot | undefined {
    const member = this.members.find((m) => m.engine.openCount < m.engine.maxConnections) ?? this.grow();
    if (member === undefined) return undefined;
    this.setClock(member.engine);
    const conn = member.engine.open(lastEventId);
    member.onKeepAlive.set(conn, onKeepAlive);
    this.arm();
    return { engine: member.engine, conn };
  }

  close(slot: Slot): void {
    const member = this.byEngine.get(slot.engine);
    if (member === undefined || !member.onKeepAlive.delete(slot.conn)) return;
    slot.engine.close(slot.conn);
  }

  /** Call before framing into `engine`, so the frame's keep-alive deadline starts from now. */
  beforeFrame(engine: Engine): void {
    this.setClock(engine);
  }

  /** Bytes framed elsewhere (a broadcast) reached the slot's client: its keep-alive restarts. */
  touch(slot: Slot): void {
    if (this.config.keepAliveMs === 0) return;
    this.setClock(slot.engine);
    slot.engine.touch(slot.conn);
  }

  private grow(): Member | undefined {
    const room = this.config.maxConnections - this.capacity;
    if (room <= 0) return undefined;
    const engine = new Engine(sseInstance(), {
      maxConnections: Math.min(room, this.config.connectionsPerEngine),
      outBytes: this.config.maxEventBytes,
      keepAliveMs: this.config.keepAliveMs,
    });
    const member: Member = { engine, onKeepAlive: new Map() };
    this.members.push(member);
    this.byEngine.set(engine, member);
    this.capacity += engine.maxConnections;
    return member;
  }

  private now(): number {
    return performance.now() - this.epoch;
  }

  private setClock(engine: Engine): void {
    if (this.config.keepAliveMs > 0) engine.setNow(this.now());
  }

  private tick(member: Member, now: number): void {
    for (const conn of member.engine.tick(now)) member.onKeepAlive.get(conn)?.();
  }

  /** Sets the timer for the earliest deadline (plus slack), unless one is set no later. */
  private arm(): void {
    if (this.config.keepAliveMs === 0) return;
    let deadline = Infinity;
    for (const m of this.members) if (m.onKeepAlive.size > 0) deadline = Math.min(deadline, m.engine.nextDeadline());
    if (deadline === Infinity) return;
    const at = deadline + this.slackMs;
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - this.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    for (const m of this.members) if (m.onKeepAlive.size > 0) this.tick(m, now);
    this.arm();
  }
}

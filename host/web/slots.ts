// Core connection slots for Response streams: instances of the core, 64 slots each, added as
// streams open and dropped when empty (one is kept), shared by every sseResponse of a process.
import { Engine } from "../../bindings/index.js";
import { sseInstance } from "../node/wasm.js";

const SLOTS_PER_ENGINE = 64;

export interface WebSlot {
  readonly engine: Engine;
  readonly conn: number;
}

interface Member {
  readonly engine: Engine;
  open: number;
}

/** Instances by their largest frame (each stream's maxEventBytes is its core's outBytes). */
const pools = new Map<number, Member[]>();

export function acquire(maxEventBytes: number): WebSlot {
  let members = pools.get(maxEventBytes);
  if (members === undefined) pools.set(maxEventBytes, (members = []));
  let member = members.find((m) => m.open < SLOTS_PER_ENGINE);
  if (member === undefined) {
    member = { engine: new Engine(sseInstance(), { maxConnections: SLOTS_PER_ENGINE, outBytes: maxEventBytes }), open: 0 };
    members.push(member);
  }
  member.open++;
  return { engine: member.engine, conn: member.engine.open() };
}

export function release(slot: WebSlot): void {
  const members = pools.get(slot.engine.outBytes)!;
  const member = members.find((m) => m.engine === slot.engine)!;
  slot.engine.close(slot.conn);
  member.open--;
  if (member.open === 0 && members.length > 1) members.splice(members.indexOf(member), 1);
}

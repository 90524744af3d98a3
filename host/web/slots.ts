// Core connection slots for Response streams: instances of the core, 64 slots each, shared by
// every sseResponse of a process, added as streams open and dropped when empty (one of each
// configuration is kept) or when they trap.
import { Instance, type CoreConfig, type FaultReporter, type Occupant, type WebSlot } from "./instance.js";

const SLOTS_PER_ENGINE = 64;

/** Instances by their core's configuration: streams share one only if they agree on it. */
const pools = new Map<string, Instance[]>();

function keyOf(config: CoreConfig): string {
  return `${config.maxEventBytes}/${config.keepAliveMs}`;
}

/**
 * A slot for the occupant `occupy` builds. A Last-Event-ID the core refuses throws its
 * InvalidFieldError and uses no slot; undefined when the instance trapped while opening.
 */
export function open<O extends Occupant>(
  config: CoreConfig,
  lastEventId: string | undefined,
  occupy: (slot: WebSlot) => O,
  report: FaultReporter,
): O | undefined {
  const key = keyOf(config);
  let instances = pools.get(key);
  if (instances === undefined) pools.set(key, (instances = []));
  let instance = instances.find((i) => i.occupants.size < SLOTS_PER_ENGINE);
  if (instance === undefined) {
    instance = new Instance({ maxEventBytes: config.maxEventBytes, keepAliveMs: config.keepAliveMs }, SLOTS_PER_ENGINE, drop);
    instances.push(instance);
  }
  return instance.open(lastEventId, occupy, report);
}

export function release(slot: WebSlot): void {
  const { instance } = slot;
  instance.close(slot.conn);
  if (instance.occupants.size === 0 && pools.get(keyOf(instance.config))!.length > 1) drop(instance);
}

/** Connection slots in use, over every instance. */
export function openSlots(): number {
  let open = 0;
  for (const instances of pools.values()) for (const instance of instances) open += instance.occupants.size;
  return open;
}

function drop(instance: Instance): void {
  const instances = pools.get(keyOf(instance.config))!;
  const at = instances.indexOf(instance);
  if (at >= 0) instances.splice(at, 1);
}

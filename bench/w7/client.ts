// W7's client, a process of its own: every subscriber of the storm (subscriber.ts), driven by
// the runner. It opens them, waits for events, and after the server's cut reconnects each at a
// uniformly random moment within the spread, as EventSource would, with its Last-Event-ID; it
// counts how the reconnects went and how long each client took to catch up.
import { nowUs } from "../w6/clock.js";
import type { CaughtUp, Settled, W7ClientCommand, W7ClientReply } from "./protocol.js";
import { Subscriber, type Watcher } from "./subscriber.js";

/** Connections opening at once on the first open (each until its response head): well within the server's listen backlog. */
const OPEN_CONCURRENCY = 500;
/** Failures listed in full; the rest are counted. */
const LISTED = 20;

let subscribers: Subscriber[] = [];
let failures: string[] = [];
let failureCount = 0;
/** What the command in progress listens to. */
let onSettled: ((s: Subscriber) => void) | undefined;
let onEvent: ((s: Subscriber, id: number) => void) | undefined;
let onClosed: ((s: Subscriber) => void) | undefined;

function reply(msg: W7ClientReply): void {
  process.send!(msg);
}

const watcher: Watcher = {
  settled: (s) => onSettled?.(s),
  event: (s, id) => onEvent?.(s, id),
  closed: (s) => onClosed?.(s),
  failure(text) {
    if (++failureCount <= LISTED) failures.push(text);
  },
};

function listedFailures(): string[] {
  return failureCount > LISTED ? [...failures, `… ${failureCount - LISTED} more`] : [...failures];
}

function open(port: number, clients: number): void {
  subscribers = Array.from({ length: clients }, (_, i) => new Subscriber(i, port, watcher));
  let started = 0;
  let settled = 0;
  onSettled = (s) => {
    if (s.outcome !== "open") watcher.failure(`client ${s.index}: ${s.outcome} on its first connection`);
    if (++settled === clients) {
      onSettled = undefined;
      reply({ type: "opened" });
    } else if (started < clients) subscribers[started++]!.open();
  };
  while (started < Math.min(OPEN_CONCURRENCY, clients)) subscribers[started++]!.open();
}

/** Every client that is streaming now gets event `id`: "received" when the last one has it, or at the deadline. */
function expect(id: number, deadlineMs: number): void {
  const waiting = new Set(subscribers.filter((s) => s.outcome === "open" && s.lastId < id));
  let at = nowUs();
  let dropped = 0;
  const finish = (): void => {
    clearTimeout(timer);
    onEvent = onClosed = undefined;
    reply({ type: "received", at, missing: waiting.size, dropped, caughtUp: caughtUp(), failures: listedFailures() });
  };
  const timer = setTimeout(finish, deadlineMs);
  onEvent = (s, got) => {
    if (got < id || !waiting.delete(s)) return;
    at = nowUs();
    if (waiting.size === 0) finish();
  };
  // A reconnected stream that the server ends will not get the event: counted, not waited for.
  onClosed = (s) => {
    if (!s.reconnected) return;
    dropped++;
    watcher.failure(`client ${s.index}: the server ended its stream after event ${s.lastId}`);
    if (waiting.delete(s) && waiting.size === 0) finish();
  };
  // Acknowledged before the runner has the event sent, so none of its arrivals is missed.
  reply({ type: "expecting" });
  if (waiting.size === 0) finish();
}

function reconnect(msg: Extract<W7ClientCommand, { type: "reconnect" }>): void {
  const s: Settled = { ok: 0, refused: 0, otherStatus: 0, connectErrors: 0, pending: subscribers.length };
  const finish = (): void => {
    clearTimeout(deadline);
    onSettled = undefined;
    reply({ type: "settled", settled: { ...s } });
  };
  const deadline = setTimeout(finish, msg.deadlineMs);
  onSettled = (sub) => {
    s.pending--;
    if (sub.outcome === "open") s.ok++;
    else if (sub.outcome === "refused") s.refused++;
    else if (sub.outcome === "status") s.otherStatus++;
    else s.connectErrors++;
    if (s.pending === 0) finish();
  };
  for (const sub of subscribers) setTimeout(() => sub.reconnect(msg.resumeAt, msg.liveId), Math.random() * msg.spreadMs);
}

/** Reconnect → caught up, over the clients that caught up. */
function caughtUp(): CaughtUp {
  const ms = subscribers.filter((s) => s.reconnected && s.caughtUpUs > 0).map((s) => (s.caughtUpUs - s.startedUs) / 1000);
  ms.sort((a, b) => a - b);
  const q = (p: number): number => (ms.length === 0 ? NaN : ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!);
  return { clients: ms.length, p50: q(0.5), p99: q(0.99), max: q(1) };
}

function close(): void {
  onSettled = onEvent = onClosed = undefined;
  for (const s of subscribers) s.destroy();
  subscribers = [];
  failures = [];
  failureCount = 0;
  reply({ type: "closed" });
}

process.on("message", (msg: W7ClientCommand) => {
  switch (msg.type) {
    case "open":
      return open(msg.port, msg.clients);
    case "expect":
      return expect(msg.id, msg.deadlineMs);
    case "reconnect":
      return reconnect(msg);
    case "close":
      return close();
  }
});
process.on("disconnect", () => process.exit(0));

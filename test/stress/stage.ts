// A stress test's stage: its server on 127.0.0.1 and the client fleet (a process of its own),
// both stopped when the test finishes, whether it passed or not.
import { onTestFinished } from "vitest";
import { serve, type Running } from "../helpers/listen.js";
import { startFleet, type Fleet } from "./fleet-control.js";

export async function stage(listener: (req: never, res: never) => void): Promise<{ running: Running; fleet: Fleet }> {
  const running = await serve(listener);
  const fleet = startFleet();
  onTestFinished(async () => {
    await fleet.stop();
    await running.close();
  });
  return { running, fleet };
}

// node --import tsx bench/profile/run.ts PEER w1|w2|w3, or: bench/profile/run.ts engine
// Profiles one case (see case.ts, engine.ts) and prints where the time goes and the calls per unit.
import { FULL } from "../config.js";
import { PEERS, type PeerName } from "../workloads.js";
import { type CaseProfile, plural, profileCase, type ProfiledWorkload } from "./case.js";
import { profileEngine } from "./engine.js";

export function describeProfile(p: CaseProfile, top = 15): string[] {
  const pct = (x: number): string => `${(100 * x).toFixed(1).padStart(5)}%`;
  return [
    `${p.peer} ${p.workload}: ${p.units} ${plural(p.unit)}, ${p.cpuPerUnitUs.toFixed(3)} µs CPU per ${p.unit} in the profiled run (${p.file})`,
    "by layer:",
    ...p.layers.map(([k, x]) => `  ${pct(x)}  ${k}`),
    "by function (self time):",
    ...p.functions.slice(0, top).map(([k, x]) => `  ${pct(x)}  ${k}`),
    `calls per ${p.unit}:`,
    ...Object.entries(p.calls).sort((a, b) => b[1] - a[1]).filter(([, n]) => n >= 0.001).map(([k, n]) => `  ${n.toFixed(3).padStart(9)}  ${k}`),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [peer, workload] = process.argv.slice(2);
  let profile: CaseProfile;
  if (peer === "engine") {
    profile = await profileEngine(FULL);
  } else {
    if (!PEERS.includes(peer as PeerName) || !["w1", "w2", "w3"].includes(workload ?? "")) {
      throw new Error("usage: bench/profile/run.ts PEER w1|w2|w3, or bench/profile/run.ts engine");
    }
    profile = await profileCase(peer as PeerName, workload as ProfiledWorkload, FULL);
  }
  for (const line of describeProfile(profile)) console.log(line);
}

// The Node host reads the core from its file with node:fs (any Node ≥ 20).
import { readFileSync } from "node:fs";
import { coreUrl, setCoreSource } from "../common/core-module.js";

setCoreSource(() => readFileSync(coreUrl()));

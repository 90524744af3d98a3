// `tail -f app.log | npx tsx host/wasi/cli.ts --event log`: the WASI command under Node,
// on this process's stdin and stdout. Exits with the command's status.
import { runSseWasi } from "./run.js";

const args = process.argv.slice(2);
process.exitCode = await runSseWasi({ args: args[0] === "--" ? args.slice(1) : args });

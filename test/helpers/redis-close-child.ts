// A process that connects a SharedChannel, sends an event, waits for its reader to read it back,
// and (unless told "keep") closes the channel; then it just returns. Node exits only if close()
// left no socket or timer behind. Prints the event's id.
//   node --import tsx test/helpers/redis-close-child.ts <redis url> <stream> close|keep
import { SharedChannel } from "../../host/redis/index.js";

const [url, stream, mode] = process.argv.slice(2);
const ch = await SharedChannel.connect({ redis: { url: url!, stream: stream! } });
const id = await ch.send("from the child");
while (ch.lastId !== id) await new Promise((r) => setTimeout(r, 5));
if (mode !== "keep") await ch.close();
process.stdout.write(`${id}\n`);

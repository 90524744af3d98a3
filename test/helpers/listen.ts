// Starts a server on 127.0.0.1, port 0, and closes it (with every open connection) after.
import { createServer, type RequestListener, type Server } from "node:http";
import type { Http2Server } from "node:http2";
import type { AddressInfo, Socket } from "node:net";

export interface Running {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function serve(listener: (req: never, res: never) => void): Promise<Running> {
  return listen(createServer(listener as RequestListener));
}

export function listen(server: Server | Http2Server): Promise<Running> {
  const sockets = new Set<{ destroy(): void }>();
  server.on("connection", (socket: { destroy(): void; once(e: "close", f: () => void): void }) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Cuts the newest of a server's connections mid-stream: a TCP reset on even cuts, a FIN on odd ones. */
export function cutNewest(sockets: readonly Socket[], cut: number): void {
  const socket = sockets[sockets.length - 1]!;
  if (cut % 2 === 0) socket.resetAndDestroy();
  else socket.destroy();
}

// A TCP proxy on 127.0.0.1 that hands each new connection to the next backend in turn, as a
// load balancer before several server processes would: cutAll makes every client reconnect,
// through it, to another backend.
import { connect, createServer, type AddressInfo, type Socket } from "node:net";

export interface RoundRobinProxy {
  readonly port: number;
  /** http://127.0.0.1:port */
  readonly url: string;
  /** The backend ports; the next connection goes to the first. */
  setBackends(ports: readonly number[]): void;
  /** Destroys every live client and backend socket; returns how many pairs there were. */
  cutAll(): number;
  /** cutAll, and stops listening. */
  close(): Promise<void>;
}

export async function roundRobinProxy(backends: readonly number[]): Promise<RoundRobinProxy> {
  let ports = [...backends];
  let next = 0;
  // Every accepted client, with its backend once connected.
  const clients = new Map<Socket, Socket | undefined>();

  /**
   * Connects to the next backend that accepts, starting at `next` and trying each once: a
   * refused (killed) backend is skipped. Rotation continues after the one that accepted.
   */
  const dial = async (client: Socket): Promise<Socket | undefined> => {
    for (let tried = 0; tried < ports.length && !client.destroyed; tried++) {
      const i = next++ % ports.length;
      const backend = connect({ port: ports[i]!, host: "127.0.0.1", allowHalfOpen: true });
      const ok = await new Promise<boolean>((resolve) => {
        backend.once("connect", () => resolve(true));
        backend.once("error", () => resolve(false));
      });
      if (ok) {
        next = i + 1;
        return backend;
      }
      backend.destroy();
    }
    return undefined;
  };

  // allowHalfOpen on both sides: an end is passed on (by pipe), not turned into a close.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    clients.set(client, undefined);
    client.on("error", () => client.destroy()); // until piped, the client's data waits unread
    // Once the client is closed nothing more can reach it; a backend's own close comes after
    // its end, which pipe passes on (flushing what is still queued for the client).
    client.once("close", () => {
      clients.get(client)?.destroy();
      clients.delete(client);
    });
    void dial(client).then((backend) => {
      if (backend === undefined || client.destroyed) {
        backend?.destroy();
        client.destroy();
        return;
      }
      clients.set(client, backend);
      backend.on("error", () => client.destroy());
      client.pipe(backend);
      backend.pipe(client);
    });
  });

  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  /** Clients still connecting are cut too: close() would otherwise wait for them. */
  const cutAll = () => {
    let n = 0;
    for (const [client, backend] of clients) {
      if (backend) n++;
      client.destroy();
      backend?.destroy();
    }
    clients.clear();
    return n;
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    setBackends(list) {
      ports = [...list];
      next = 0;
    },
    cutAll,
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}

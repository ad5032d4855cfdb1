import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An emulator's HTTP server, listening. */
export interface Listening {
  readonly port: number;
  /** `host:port`, the host bracketed when it is IPv6. */
  readonly address: string;
  /** `http://<address>`. */
  readonly url: string;
  /** Stops listening and ends every connection, requests a fault holds included; once, however often called. */
  close(): Promise<void>;
}

/** Listens on `host` (default 127.0.0.1) and `port` (default a free one); a port in use rejects. */
export async function listen(server: Server, options: { host?: string; port?: number }): Promise<Listening> {
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    port,
    address,
    url: `http://${address}`,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

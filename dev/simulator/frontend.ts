import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import { TLSSocket, createServer as createTlsServer } from 'node:tls';
import type { RequestHandler } from './router.ts';
import type { Identity } from './types.ts';

/** The listening socket of the simulator. */
export interface Frontend {
  /** `https://127.0.0.1:PORT` or `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

export interface FrontendTls {
  certPem: string;
  keyPem: string;
  /** Client certificates signed by this CA authenticate their subject. */
  caPem: string;
}

/**
 * Listens on 127.0.0.1 (`port` 0 picks a free one). With `tls`, client certificates are requested (not required)
 * and a certificate signed by the CA authenticates CN as the user and each O as a group.
 *
 * Why node:tls + node:http: Bun.serve verifies client certificates but cannot show the peer
 * certificate to the handler, and Bun's node:https hands the handler a plain Socket without
 * getPeerCertificate(). Bun's node:tls server does expose it, and node:http accepts that
 * TLSSocket through `emit("connection")`, so each request sees its connection's certificate.
 */
export async function startFrontend(
  tls: FrontendTls | undefined,
  port: number,
  handler: RequestHandler,
): Promise<Frontend> {
  const sockets = new Set<Socket>();
  const identities = new WeakMap<Socket, Identity | null>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A client that resets its connection (an aborted watch) must not surface as an unhandled error.
    socket.on('error', () => {});
  };

  const http = createHttpServer((req, res) => handler(req, res, identityOf(req.socket, identities)));
  // Watches stay open for minutes; the simulator ends them itself.
  http.requestTimeout = 0;
  http.timeout = 0;

  let listener: Server;
  if (tls) {
    const secure = createTlsServer(
      { key: tls.keyPem, cert: tls.certPem, ca: tls.caPem, requestCert: true, rejectUnauthorized: false },
      (socket) => {
        track(socket);
        http.emit('connection', socket);
      },
    );
    // A failed handshake is the client's problem; it must not crash the simulator.
    secure.on('tlsClientError', () => {});
    listener = secure;
  } else {
    listener = http;
  }
  listener.on('connection', track);

  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(port, '127.0.0.1', () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const address = `127.0.0.1:${(listener.address() as AddressInfo).port}`;

  return {
    url: `${tls ? 'https' : 'http'}://${address}`,
    address,
    async close() {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      http.closeAllConnections();
      await closed;
    },
  };
}

function identityOf(socket: Socket, cache: WeakMap<Socket, Identity | null>): Identity | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  let identity = cache.get(socket);
  if (identity === undefined) {
    identity = socket.authorized ? fromSubject(socket.getPeerCertificate().subject) : null;
    cache.set(socket, identity);
  }
  return identity ?? undefined;
}

function fromSubject(subject: Record<string, string | string[] | undefined> | undefined): Identity | null {
  const list = (value: string | string[] | undefined) => (value === undefined ? [] : [value].flat());
  const username = list(subject?.CN)[0];
  return username ? { username, groups: list(subject?.O) } : null;
}

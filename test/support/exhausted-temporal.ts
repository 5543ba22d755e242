/**
 * A stand-in for a Temporal frontend that is over its limits: a real HTTP/2 gRPC endpoint that
 * answers GetSystemInfo (so a client connects) and every other call with gRPC status 8,
 * RESOURCE_EXHAUSTED, as Temporal's rate limiters do. A real server cannot be made to answer it on
 * demand (its limits are dynamic config of the shared stack), so this is where the refusal is
 * injected: at the wire, below the real client and its interceptors.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

const GRPC = 'application/grpc';

export interface ExhaustedTemporal {
  address: string;
  /** Calls received by method name (StartWorkflowExecution, ...). */
  calls: Map<string, number>;
  close(): Promise<void>;
}

export async function startExhaustedTemporal(): Promise<ExhaustedTemporal> {
  const calls = new Map<string, number>();
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const method =
      String(headers[':path'] ?? '')
        .split('/')
        .pop() ?? '';
    calls.set(method, (calls.get(method) ?? 0) + 1);
    stream.on('error', () => undefined);
    stream.resume(); // the request message is not read
    if (method === 'GetSystemInfo') {
      // An empty message (every field at its default): a length-prefixed frame of 0 bytes.
      stream.respond({ ':status': 200, 'content-type': GRPC }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.alloc(5));
      return;
    }
    stream.respond(
      { ':status': 200, 'content-type': GRPC, 'grpc-status': '8', 'grpc-message': 'namespace rate limit exceeded' },
      { endStream: true },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

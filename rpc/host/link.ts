/**
 * The CLI's link to the host: a vscode-jsonrpc client over an in-memory pair into the forwarder
 * (forward.ts), so the CLI gets exactly what an editor behind `mai serve` gets — the host's
 * replies, and a retryable error for a request the host took and never answered.
 */
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { MaiClient } from '../client.ts';
import { forward } from './forward.ts';
import type { ReachedHost } from './use-host.ts';

export interface HostLink {
  client: MaiClient;
  close(): Promise<void>;
}

export function linkToHost(reached: ReachedHost, name = 'mai'): HostLink {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const forwarded = forward({ input: toHost, output: fromHost, address: reached.address, connection: reached.connection, face: 'mai', name });
  const connection = createMessageConnection(new StreamMessageReader(fromHost), new StreamMessageWriter(toHost));
  connection.listen();
  return {
    client: new MaiClient(connection),
    async close() {
      toHost.end();
      await forwarded;
      connection.dispose();
      fromHost.end();
    },
  };
}

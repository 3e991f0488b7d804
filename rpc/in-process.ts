/**
 * The CLI's link to Mai: the real server (serve-streams.ts, with its framing and conformance layers) and a
 * vscode-jsonrpc client connection, joined by an in-memory stream pair in one process. The client
 * speaks Content-Length framing, exactly as an editor talking to `mai serve` would.
 */
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import { MaiClient } from './client.ts';
import { serveStreams, type ServeOutcome } from './serve-streams.ts';

export interface InProcessLink {
  client: MaiClient;
  /** Ends the client's side; resolves once the server has answered everything and stopped. */
  close(): Promise<ServeOutcome>;
}

export function linkInProcess(mai: Mai, log: Logger): InProcessLink {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const served = serveStreams({ input: toServer, output: toClient, mai, log });
  const connection = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
  connection.listen();
  return {
    client: new MaiClient(connection),
    async close() {
      toServer.end();
      const outcome = await served;
      connection.dispose();
      toClient.end();
      return outcome;
    },
  };
}

/**
 * The reference the protocol is measured against: a bare vscode-jsonrpc server on stdin/stdout
 * that answers every request at once with a fixed result — the same status object Mai answers
 * (ECHO_REPLY, as JSON), so the bytes on the wire are the same — and `initialize` with a server
 * name. `node echo-server.js content-length|ndjson`. vscode-jsonrpc speaks only Content-Length
 * framing; for NDJSON it gets the smallest reader and writer that frame by newline.
 */
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  createMessageConnection,
  Disposable,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';

/** One JSON message a line from a stream. */
class NdjsonReader extends AbstractMessageReader {
  /** @param {NodeJS.ReadableStream} input */
  constructor(input) {
    super();
    this.input = input;
  }

  /** @param {import('vscode-jsonrpc/node').DataCallback} callback */
  listen(callback) {
    let rest = '';
    /** @param {Buffer | string} chunk */
    const onData = (chunk) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') callback(JSON.parse(line));
    };
    this.input.on('data', onData);
    this.input.on('end', () => this.fireClose());
    return Disposable.create(() => this.input.off('data', onData));
  }
}

/** One JSON message a line to a stream. */
class NdjsonWriter extends AbstractMessageWriter {
  /** @param {NodeJS.WritableStream} output */
  constructor(output) {
    super();
    this.output = output;
  }

  /** @param {import('vscode-jsonrpc/node').Message} message */
  write(message) {
    this.output.write(`${JSON.stringify(message)}\n`);
    return Promise.resolve();
  }

  end() {}
}

const framing = process.argv[2] === 'ndjson' ? 'ndjson' : 'content-length';
/** @type {unknown} */
const reply = process.env.ECHO_REPLY ? JSON.parse(process.env.ECHO_REPLY) : null;
const connection =
  framing === 'ndjson'
    ? createMessageConnection(new NdjsonReader(process.stdin), new NdjsonWriter(process.stdout))
    : createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
connection.onRequest((method, params) => (method === 'initialize' ? { serverInfo: { name: 'echo', version: '0' } } : (reply ?? params ?? null)));
connection.onNotification('exit', () => process.exit(0));
connection.onClose(() => process.exit(0));
process.stdin.on('end', () => process.exit(0));
connection.listen();

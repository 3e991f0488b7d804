/**
 * The MessageReader and MessageWriter the conformance layer (conformance.ts) hands vscode-jsonrpc's
 * MessageConnection: no bytes, only messages — the layer pushes checked messages into the reader's
 * callback, and the writer gives each outgoing message back to the layer.
 */
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageReader,
  type MessageWriter,
} from 'vscode-jsonrpc/node';

export class LayerReader extends AbstractMessageReader implements MessageReader {
  callback: DataCallback | null = null;
  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    return { dispose: () => (this.callback = null) };
  }
  close(): void {
    this.fireClose();
  }
}

export class LayerWriter extends AbstractMessageWriter implements MessageWriter {
  constructor(private readonly onMessage: (message: Message) => void) {
    super();
  }
  async write(message: Message): Promise<void> {
    this.onMessage(message);
  }
  end(): void {}
}

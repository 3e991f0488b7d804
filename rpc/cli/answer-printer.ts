/**
 * Prints a streamed answer as its deltas come. On `restart` (a fallback after text was shown) a
 * terminal erases what was printed; a pipe cannot take text back, so it gets a line break and a
 * note on stderr, and the new answer follows.
 */
import type { ChatProgress } from '../mai-protocol.ts';
import type { CliIo } from './io.ts';

export class AnswerPrinter {
  private shown = '';

  private readonly out: CliIo['stdout'];

  constructor(private readonly io: Pick<CliIo, 'stdout' | 'stderr'>) {
    this.out = io.stdout;
  }

  onProgress = (event: ChatProgress): void => {
    if (event.kind === 'delta') {
      this.out.write(event.text);
      this.shown += event.text;
      return;
    }
    if (this.shown === '') return;
    if (this.out.isTTY) {
      const rows = this.rows();
      this.out.write(`\r${rows > 1 ? `\x1b[${rows - 1}A` : ''}\x1b[J`);
    } else {
      this.out.write('\n');
      this.io.stderr.write(`mai: the answer restarts: ${event.model} takes over\n`);
    }
    this.shown = '';
  };

  /** Ends the answer on a new line. */
  finish(): void {
    if (this.shown !== '' && !this.shown.endsWith('\n')) this.out.write('\n');
    this.shown = '';
  }

  /** Terminal rows the shown text takes. */
  private rows(): number {
    const columns = Math.max(1, this.out.columns || 80);
    return this.shown.split('\n').reduce((sum, line) => sum + Math.max(1, Math.ceil([...line].length / columns)), 0);
  }
}

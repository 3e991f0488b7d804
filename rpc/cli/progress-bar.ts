/** A one-line progress bar on stderr, redrawn at most ten times a second (only on a terminal). */
export class ProgressBar {
  private done = 0;
  private failed = 0;
  private drawnAt = 0;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WritableStream,
  ) {}

  tick(ok: boolean): void {
    this.done++;
    if (!ok) this.failed++;
    const now = Date.now();
    if (this.done === this.total || now - this.drawnAt >= 100) {
      this.drawnAt = now;
      this.draw();
    }
  }

  finish(): void {
    this.draw();
    this.out.write('\n');
  }

  private draw(): void {
    const width = 30;
    const share = this.total === 0 ? 1 : this.done / this.total;
    const filled = Math.round(share * width);
    const rate = this.done / Math.max(0.001, (Date.now() - this.started) / 1000);
    const failed = this.failed > 0 ? ` · ${this.failed} failed` : '';
    this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total}${failed} · ${rate.toFixed(1)}/s\x1b[K`);
  }
}

/**
 * Progress of a job with a known total, on stderr: a redrawn bar on a terminal, plain periodic lines
 * otherwise (CI logs, files). The clock is injected so output can be tested.
 *
 *   replay [##########··········]  1200/2400  50%  8,512 msg/s  ETA 0:01
 */
export interface ProgressOptions {
  readonly total: number;
  readonly label?: string;
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Redraw at most this often on a terminal. */
  readonly ttyIntervalMs?: number;
  /** Print a line at most this often otherwise. */
  readonly lineIntervalMs?: number;
  readonly now?: () => number;
}

const formatCount = (n: number): string => Math.round(n).toLocaleString('en-US');

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export class Progress {
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly now: () => number;
  private readonly started: number;
  private last = -Infinity;
  private done = 0;
  private drawn = false;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  get tty(): boolean {
    return this.stream.isTTY === true;
  }

  /** Sets the number of messages done; draws when the interval has passed. */
  update(done: number): void {
    this.done = done;
    const t = this.now();
    const every = this.tty ? (this.options.ttyIntervalMs ?? 100) : (this.options.lineIntervalMs ?? 5000);
    if (t - this.last < every) return;
    this.last = t;
    this.draw(t);
  }

  /** Draws the final state and ends the bar's line. */
  finish(): void {
    this.draw(this.now());
    if (this.tty) this.stream.write('\n');
  }

  /** The status text (without the bar), e.g. `1200/2400  50%  8,512 msg/s  ETA 0:01`. */
  status(t = this.now()): string {
    const { total } = this.options;
    const elapsed = t - this.started;
    const rate = elapsed > 0 ? (this.done * 1000) / elapsed : 0;
    const pct = total > 0 ? Math.floor((this.done / total) * 100) : 100;
    const eta = rate > 0 ? ((total - this.done) / rate) * 1000 : Infinity;
    return `${formatCount(this.done)}/${formatCount(total)}  ${pct}%  ${formatCount(rate)} msg/s  ETA ${this.done >= total ? '0:00' : formatDuration(eta)}`;
  }

  private draw(t: number): void {
    const label = this.options.label ?? 'replay';
    const status = this.status(t);
    if (!this.tty) {
      this.stream.write(`${label}: ${status}\n`);
      return;
    }
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - label.length - status.length - 6));
    const { total } = this.options;
    const filled = total > 0 ? Math.min(width, Math.floor((this.done / total) * width)) : width;
    const bar = `${'#'.repeat(filled)}${'·'.repeat(width - filled)}`;
    this.stream.write(`${this.drawn ? '\r\u001b[2K' : ''}${label} [${bar}]  ${status}`);
    this.drawn = true;
  }
}

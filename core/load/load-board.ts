/**
 * The load each model server reports about itself, sampled off the turn path: every
 * `load.intervalMs`, each backend that can say (`probeLoad`) is asked, bounded by
 * `load.timeoutMs` (a probe still running is never started twice). A turn only reads the last
 * figures. Figures are checked before they are believed (slots beyond `load.maxSlots`, negative
 * counts, a server that queues while it says it has free slots) and age out after `load.staleMs`:
 * a server that stops answering, answers slowly or answers nonsense leaves its models of unknown
 * load, never a stalled turn. Every outcome is kept for `mai status`.
 */
import type { LoadConfig } from '../config/schema.ts';
import { MaiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { LoadProbeRequest, ServerLoad } from '../types.ts';

export interface LoadProbe {
  backend: string;
  probe(request: LoadProbeRequest): Promise<ServerLoad>;
}

/** What `mai status` shows for one backend's load. */
export interface LoadReport {
  slots: number | null;
  running: number | null;
  waiting: number | null;
  kvUsage: number | null;
  source: string | null;
  /** When the figures were read (ISO), and whether they are too old to use. */
  sampledAt: string | null;
  stale: boolean;
  /** The last probe's failure, when it failed. */
  error?: string;
  notes: string[];
}

interface Entry {
  load: ServerLoad | null;
  /** Mai's own turns at that server when the figures were asked for (part of what it reported). */
  own: number;
  at: number;
  error: string | null;
  inFlight: boolean;
}

const count = (v: number | null): number | null => (v !== null && Number.isFinite(v) && v >= 0 ? Math.round(v) : null);

/** The figures, checked: implausible ones dropped or bounded, each with a note saying so. */
export function sanitizeLoad(raw: ServerLoad, maxSlots: number): ServerLoad {
  const notes = [...(raw.notes ?? [])];
  let slots = raw.slots;
  if (slots !== null && (!Number.isFinite(slots) || slots < 1)) {
    notes.push(`reported ${slots} slots: ignored`);
    slots = null;
  } else if (slots !== null && slots > maxSlots) {
    notes.push(`reported ${slots} slots: believed ${maxSlots} (load.maxSlots)`);
    slots = maxSlots;
  }
  if (slots !== null) slots = Math.floor(slots);
  const running = count(raw.running);
  const waiting = count(raw.waiting);
  // Queueing while it says slots are free: it has fewer than it says.
  if (slots !== null && running !== null && waiting !== null && waiting > 0 && running < slots) {
    notes.push(`says ${slots} slots but queues ${waiting} with ${running} running: believed ${Math.max(1, running)}`);
    slots = Math.max(1, running);
  }
  const kv = raw.kvUsage;
  const kvUsage = kv !== null && Number.isFinite(kv) && kv >= 0 ? Math.min(1, kv > 1 && kv <= 100 ? kv / 100 : kv) : null;
  return { ...raw, slots, running, waiting, kvUsage, notes };
}

export class LoadBoard {
  private readonly entries = new Map<string, Entry>();
  private timer: ReturnType<typeof setInterval> | null = null;
  /**
   * Mai's own turns at a backend now, and how many it ever started there (set by the router), so
   * what others send can be told apart: Mai's share of a sample is what ran as it began plus what
   * started while it ran (counted in full, so others' load is never overestimated).
   */
  ownLoad: (backend: string) => { inFlight: number; started: number } = () => ({ inFlight: 0, started: 0 });
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly probes: readonly LoadProbe[],
    private readonly config: LoadConfig,
    private readonly log: Logger,
  ) {
    for (const p of probes) this.entries.set(p.backend, { load: null, own: 0, at: 0, error: null, inFlight: false });
  }

  /** Samples now and then every interval (the timer never keeps the process alive). */
  start(): void {
    if (this.timer || this.closed || this.probes.length === 0) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.config.intervalMs);
    this.timer.unref?.();
  }

  /** Called after every sample (the queue re-checks its limits). */
  onSample(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Asks every server once (those whose last probe still runs are skipped); never rejects. */
  async sample(): Promise<void> {
    await Promise.all(this.probes.map((p) => this.sampleOne(p)));
    for (const listener of this.listeners) listener();
  }

  private async sampleOne(p: LoadProbe): Promise<void> {
    const entry = this.entries.get(p.backend)!;
    if (entry.inFlight || this.closed) return;
    entry.inFlight = true;
    const ms = this.config.timeoutMs;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The probe gets the signal; the race makes sure a probe that ignores it cannot hold the sample.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`did not report its load within ${ms} ms`);
        controller.abort(error);
        reject(error);
      }, ms);
    });
    const before = this.ownLoad(p.backend);
    try {
      const raw = await Promise.race([p.probe({ signal: controller.signal, maxBytes: this.config.maxBytes }), deadline]);
      entry.load = sanitizeLoad(raw, this.config.maxSlots);
      entry.own = before.inFlight + (this.ownLoad(p.backend).started - before.started);
      entry.at = Date.now();
      entry.error = null;
    } catch (error) {
      entry.error = controller.signal.aborted ? `did not report its load within ${ms} ms` : MaiError.from(error).message;
      this.log.debug(`load of ${p.backend}: ${entry.error}`);
    } finally {
      clearTimeout(timer);
      entry.inFlight = false;
    }
  }

  /** The backend's figures while fresh; undefined when unknown or stale. */
  of(backend: string, now = Date.now()): ServerLoad | undefined {
    const entry = this.entries.get(backend);
    if (!entry?.load || now - entry.at > this.config.staleMs) return undefined;
    return entry.load;
  }

  /** What others (not this Mai) had running or waiting at the backend at the last fresh sample. */
  foreign(backend: string, now = Date.now()): number {
    const entry = this.entries.get(backend);
    const load = this.of(backend, now);
    if (!entry || !load) return 0;
    return Math.max(0, (load.running ?? 0) + (load.waiting ?? 0) - entry.own);
  }

  report(backend: string, now = Date.now()): LoadReport | undefined {
    const entry = this.entries.get(backend);
    if (!entry) return undefined;
    const stale = entry.load !== null && now - entry.at > this.config.staleMs;
    const fresh = stale ? null : entry.load;
    const notes = [...(entry.load?.notes ?? [])];
    if (stale) notes.push(`figures from ${Math.round((now - entry.at) / 1000)} s ago are too old (load.staleMs ${this.config.staleMs}): load unknown`);
    return {
      slots: fresh?.slots ?? null,
      running: fresh?.running ?? null,
      waiting: fresh?.waiting ?? null,
      kvUsage: fresh?.kvUsage ?? null,
      source: entry.load?.source ?? null,
      sampledAt: entry.at ? new Date(entry.at).toISOString() : null,
      stale,
      ...(entry.error ? { error: entry.error } : {}),
      notes,
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }
}

/**
 * What Mai remembers between turns: the pin (persisted in the state directory so `mai switch`
 * outlives the process), the current model, the last switch and the counters `status` shows.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { makeDirSync } from './context/make-dir.ts';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from './log.ts';

export interface SwitchRecord {
  from: string | null;
  to: string;
  reason: string;
  at: string;
}

export interface Counters {
  turns: number;
  fallbacks: number;
  switches: number;
}

/** $XDG_STATE_HOME/mai (or ~/.local/state/mai) unless the config names another folder. */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.MAI_STATE_DIR) return env.MAI_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'mai');
}

export class MaiState {
  pinned: string | null = null;
  /** The one server (backend) of the pinned model the pin names (`mai switch id@backend`), else null. */
  pinnedReplica: string | null = null;
  current: string | null = null;
  currentSince = 0;
  lastSwitch: SwitchRecord | undefined;
  readonly counters: Counters = { turns: 0, fallbacks: 0, switches: 0 };
  readonly startedAt = Date.now();
  private readonly file: string;

  constructor(
    readonly stateDir: string,
    private readonly log: Logger,
  ) {
    this.file = join(stateDir, 'state.json');
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as { pinned?: unknown; replica?: unknown };
      if (typeof saved.pinned === 'string') this.pinned = saved.pinned;
      if (this.pinned !== null && typeof saved.replica === 'string') this.pinnedReplica = saved.replica;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.warn(`ignoring unreadable ${this.file} (the pin is reset; \`mai switch MODEL\` sets it again)`, error);
      }
    }
  }

  /** Pins a model (and one of its servers, when `replica` names it), or unpins with null; persisted at once. */
  pin(model: string | null, replica: string | null = null): void {
    this.pinned = model;
    this.pinnedReplica = model === null ? null : replica;
    try {
      makeDirSync(this.stateDir);
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ pinned: model, ...(this.pinnedReplica ? { replica: this.pinnedReplica } : {}) }, null, 2)}\n`);
      renameSync(tmp, this.file);
    } catch (error) {
      this.log.warn(`could not save the pin to ${this.file}; it holds until Mai stops`, error);
    }
  }

  /** Records the model that answered a turn; a change of model is a switch. */
  answeredBy(model: string, reason: string): void {
    if (this.current !== model) {
      if (this.current !== null) this.counters.switches++;
      this.lastSwitch = { from: this.current, to: model, reason, at: new Date().toISOString() };
      this.current = model;
      this.currentSince = Date.now();
    }
  }
}

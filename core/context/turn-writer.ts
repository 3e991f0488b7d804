/**
 * How a finished turn reaches a conversation's file: ONE write of all its records, then fsync (and
 * an fsync of the folder when the file is new), under a cross-process lock (core/file-lock.ts), so two
 * Mai processes never interleave records and a crash at any instant loses at most the turn in flight.
 *
 * `append` returns once the turn is written: a crash of the process can no longer lose it (the
 * kernel holds it). With `context.fsync: before-reply` it also waits for the fsync, so a crash of
 * the machine cannot either; with after-reply the fsync starts right behind the reply (the loop's next
 * check phase) and `settled()` waits for it, so a turn's reply does not wait for the disk.
 *
 * The first turn of a conversation known not to exist yet skips the lock: it creates the file with
 * O_CREAT|O_EXCL|O_APPEND ('ax'), which only one process can win, and writes header and turn in one
 * O_APPEND write; a process that loses that race (EEXIST) takes the locked path. The creation can be
 * started while the model answers (`reserve`, reserved-file.ts), leaving the turn only the write. The folder is made
 * once per writer (again if it disappears). An append after a torn tail first ends the torn line and
 * marks it, so the file stays readable.
 */
import { randomUUID } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { dirname } from 'node:path';
import { setImmediate as afterThisTurnOfTheLoop } from 'node:timers/promises';
import type { FsyncMode } from '../config/schema.ts';
import { errno, ErrorCodes, MaiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { StoredMessage } from './message.ts';
import { encodeTurn, type ConversationRecord } from './conversation-file.ts';
import { closeFile, closeQuietly, fsyncFile, lockForWriting, openFile, PendingSyncs, readAt, statFile, syncDir, writeAll } from './durable-file.ts';
import { makeDir, stateDirError } from './make-dir.ts';
import { ReservedFile } from './reserved-file.ts';

function saveFailed(file: string, error: unknown): MaiError {
  if (error instanceof MaiError) return error;
  // The folder cannot be made or written (permissions, read-only, /proc, not a folder): say which and how to fix it.
  const unusable = stateDirError(dirname(dirname(file)), 'save the turn', error);
  return unusable
    ? unusable
    : new MaiError(ErrorCodes.internal, `Could not save the turn to ${file}: ${(error as Error).message}. The answer was not stored.`, { cause: error, data: { file } });
}

/** The first record of a new conversation's file. */
function header(id: string, messages: ReadonlyArray<StoredMessage>): ConversationRecord {
  return { type: 'meta', id, createdAt: messages[0]?.at ?? new Date().toISOString() };
}

export class TurnWriter {
  private readonly syncs = new PendingSyncs();
  /** Reserved files no turn wrote, being removed. */
  private readonly discards = new PendingSyncs();
  private dirReady: Promise<void> | null = null;
  /** The folder's fsync under way, and the one queued behind it that new names join (group commit). */
  private folderSyncRunning: Promise<void> | null = null;
  private folderSyncQueued: Promise<void> | null = null;
  private folderSyncCount = 0;

  constructor(
    readonly dir: string,
    private readonly log: Logger | undefined,
    private readonly fsync: FsyncMode,
  ) {}

  /** How many written turns are not yet fsynced (only with after-reply). */
  get syncing(): number {
    return this.syncs.size;
  }

  /** Resolves once every turn written so far is fsynced (and every unused reserved file removed). */
  async settled(): Promise<void> {
    await Promise.all([this.syncs.settled(), this.discards.settled()]);
  }

  /** How many times the folder was fsynced for new conversations' names. */
  get folderSyncs(): number {
    return this.folderSyncCount;
  }

  /**
   * Starts creating a new conversation's file, for its first turn's `append` to write to: once this
   * turn of the loop is done (setImmediate), so after the turn's request has gone to the model. Handing
   * the open to libuv's thread pool wakes a pool thread on the same two cores, which cost the turn's
   * way to its request ~50 µs here.
   */
  reserve(file: string): ReservedFile {
    const opening = afterThisTurnOfTheLoop().then(() => this.openIn(file, 'ax'));
    return new ReservedFile(file, opening, this.log);
  }

  /** A reserved file no turn will write: removed behind the caller (`settled()` waits for it). */
  discard(reserved: ReservedFile): void {
    this.discards.track(reserved.discard());
  }

  /**
   * Appends one turn's messages to `file`; `isNew`: this process knows of no such file (no lock
   * needed to create it); `reserved`: the file, created for this turn (taken here, whatever happens).
   */
  async append(id: string, file: string, messages: ReadonlyArray<StoredMessage>, isNew: boolean, reserved?: ReservedFile | null): Promise<void> {
    const turn = randomUUID();
    const made = reserved ? await reserved.take() : null;
    if (made !== null) {
      await this.writeFirst(id, file, made, turn, messages);
      return;
    }
    if (isNew && (await this.create(id, file, turn, messages))) return;
    let fd: number;
    try {
      // Opened before locking, so a removed folder shows as ENOENT now, not after the lock's retries.
      fd = await this.openIn(file, 'a+');
    } catch (error) {
      throw saveFailed(file, error);
    }
    const release = await lockForWriting(file, this.log).catch((error: unknown) => {
      closeQuietly(fd);
      throw error;
    });
    let created: boolean;
    try {
      const stats = await statFile(fd);
      let size = stats.size;
      if (stats.nlink === 0) {
        // The file was deleted between the open and the lock: write to the name, not the old inode.
        const reopened = await openFile(file, 'a+');
        closeFile(fd);
        fd = reopened;
        ({ size } = await statFile(fd));
      }
      created = size === 0;
      let prefix = '';
      if (!created) {
        const last = Buffer.alloc(1);
        await readAt(fd, last, 0, 1, size - 1);
        // A crash tore the last record: end that line and mark it, so it is skipped, not taken for corruption.
        if (last[0] !== 0x0a) prefix = `\n${JSON.stringify({ type: 'torn', at: new Date().toISOString() })}\n`;
      }
      await writeAll(fd, encodeTurn(prefix, created ? [header(id, messages)] : [], turn, messages));
    } catch (error) {
      closeQuietly(fd);
      throw saveFailed(file, error);
    } finally {
      // The lock keeps writers from interleaving; the fsync that follows needs none.
      await release();
    }
    await this.finish(fd, file, created);
  }

  /**
   * The first turn of a conversation with no file yet, without the lock: 'ax' creation is exclusive,
   * so no other process can be writing a header or checking a torn tail of this file, and one
   * O_APPEND write cannot interleave with another's. False when the file exists after all (another
   * process won the race): the caller appends under the lock.
   */
  private async create(id: string, file: string, turn: string, messages: ReadonlyArray<StoredMessage>): Promise<boolean> {
    let fd: number;
    try {
      fd = await this.openIn(file, 'ax');
    } catch (error) {
      if (errno(error) === 'EEXIST') return false;
      throw saveFailed(file, error);
    }
    await this.writeFirst(id, file, fd, turn, messages);
    return true;
  }

  /** Header and turn in one O_APPEND write to a file this process just created ('ax'), then its fsync. */
  private async writeFirst(id: string, file: string, fd: number, turn: string, messages: ReadonlyArray<StoredMessage>): Promise<void> {
    try {
      await writeAll(fd, encodeTurn('', [header(id, messages)], turn, messages));
    } catch (error) {
      closeQuietly(fd);
      throw saveFailed(file, error);
    }
    await this.finish(fd, file, true);
  }

  /**
   * fsyncs and closes a descriptor that holds a written turn, and fsyncs the folder for a new name (it
   * must survive a crash too): before returning, or right behind the caller, tracked for `settled()`.
   * A failed fsync behind the caller is logged: the turn is written, but may not survive a crash of
   * the machine.
   */
  private async finish(fd: number, file: string, newName: boolean): Promise<void> {
    const sync = async () => {
      try {
        await fsyncFile(fd);
      } finally {
        closeFile(fd);
      }
      if (newName) await this.syncFolder();
    };
    if (this.fsync === 'before-reply') {
      await sync().catch((error: unknown) => {
        throw saveFailed(file, error);
      });
      return;
    }
    // Started behind the reply, not before it: handing the fsync to libuv's thread pool cost the calling
    // thread ~130 us here (a pool thread woken on the same two cores), and setImmediate runs once this
    // turn of the loop, which writes the reply, is done.
    const behind = afterThisTurnOfTheLoop().then(sync);
    this.syncs.track(behind.catch((error: unknown) => this.log?.error(`the turn written to ${file} could not be fsynced; it may not survive a crash of the machine`, error)));
  }

  /**
   * fsyncs the folder so the names created in it so far survive a crash. One fsync covers every name
   * created before it starts, so while one runs, the names created meanwhile share the next one
   * (queued behind it) instead of each opening and fsyncing the folder: under many new conversations
   * at once (`mai batch`) that was three of a turn's seven file-system calls.
   */
  private syncFolder(): Promise<void> {
    if (this.folderSyncQueued) return this.folderSyncQueued;
    if (!this.folderSyncRunning) return this.startFolderSync();
    const queued = this.folderSyncRunning.then(() => {
      this.folderSyncQueued = null;
      return this.startFolderSync();
    });
    this.folderSyncQueued = queued;
    return queued;
  }

  private startFolderSync(): Promise<void> {
    this.folderSyncCount++;
    const running: Promise<void> = syncDir(this.dir).finally(() => {
      if (this.folderSyncRunning === running) this.folderSyncRunning = null;
    });
    this.folderSyncRunning = running;
    return running;
  }

  /** Opens a file of the folder, making the folder first (once, and again if it was removed). */
  private async openIn(file: string, flags: 'a+' | 'ax'): Promise<number> {
    await this.ensureDir();
    try {
      return await openFile(file, flags);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
      await this.ensureDir(true);
      return openFile(file, flags);
    }
  }

  /** mkdir -p once (and again when `again`: the folder was removed meanwhile). */
  private ensureDir(again = false): Promise<void> {
    if (again || !this.dirReady) {
      const making = makeDir(this.dir).then(async (created) => {
        if (created) await syncDir(dirname(created));
      });
      this.dirReady = making;
      making.catch(() => {
        if (this.dirReady === making) this.dirReady = null;
      });
    }
    return this.dirReady;
  }
}

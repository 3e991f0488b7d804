/**
 * What must be written synchronously when the process exits: the ledger lines of turns whose batch
 * has not gone out yet (a normal exit that skipped close — process.exit after the last reply).
 * One 'exit' listener for the whole process, however many Mai it holds.
 */
const flushers = new Set<() => void>();
let installed = false;

function flushAll(): void {
  for (const flush of flushers) {
    try {
      flush();
    } catch {
      // the process is leaving; nothing can be told any more
    }
  }
}

/** Registers `flush` to run at exit; returns its removal. */
export function onExitFlush(flush: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', flushAll);
  }
  flushers.add(flush);
  return () => void flushers.delete(flush);
}

/** What every benchmark does around its run: log on stderr, and undo what it started if interrupted. */

/** A benchmark's log line on stderr: `[bench:<name> HH:MM:SS] message`. */
export function benchLog(name: string): (msg: string) => void {
  return (msg) => process.stderr.write(`[bench:${name} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** One list for the whole process, whichever benchmark modules it loaded. */
const undo = new Set<() => unknown>();
let listening = false;

/**
 * What to undo if the run is interrupted (SIGINT/SIGTERM): servers, child processes, temp folders. Each
 * is called once, newest first, a failing one logged and the rest still run; then the process exits 130.
 */
export function undoOnInterrupt(log: (msg: string) => void): Set<() => unknown> {
  if (listening) return undo;
  listening = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      for (const step of [...undo].reverse()) {
        try {
          step();
        } catch (err) {
          log(`cleanup failed: ${(err as Error).message}`);
        }
      }
      process.exit(130);
    });
  }
  return undo;
}

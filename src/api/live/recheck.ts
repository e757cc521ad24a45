/** At most this many credentials are checked at once, so that a re-check never takes the store's pool. */
const CONCURRENCY = 8;

/**
 * Checks the credentials of every open connection again, every `everyMs` (counted from the end of the
 * previous round, so rounds never overlap): once per distinct credential, however many connections
 * share it. `check` gets the credential and its connections and closes those that must go.
 */
export function startRecheck<C>(options: {
  everyMs: number;
  connections: () => Iterable<C>;
  credentialOf: (connection: C) => string | undefined;
  check: (credential: string, connections: C[]) => Promise<void>;
  /** What a round that failed is told to (the next round runs anyway). */
  onError: (err: unknown) => void;
}): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();
  let stopped = false;

  const run = async () => {
    const groups = new Map<string, C[]>();
    for (const connection of options.connections()) {
      const credential = options.credentialOf(connection);
      if (credential === undefined) continue;
      const group = groups.get(credential);
      if (group) group.push(connection);
      else groups.set(credential, [connection]);
    }
    const queue = [...groups];
    const worker = async () => {
      for (let next = queue.shift(); next && !stopped; next = queue.shift()) await options.check(...next);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      round = run().catch(options.onError).finally(schedule);
    }, options.everyMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}

/**
 * A notification worker in a process of its own, as a replica runs it, so that a test can kill it
 * mid-send. Started as `node --import tsx test/support/outbox-worker.ts` (tsx as a loader: its CLI would
 * run the worker in a second process that SIGKILL does not reach). Reads DATABASE_URL, SLACK_API_URL
 * and LEASE_MS; prints `started` once it runs, then each log entry as a JSON line.
 */
import { NotificationWorker } from '../../src/approvals/notify/worker';
import { openDb } from '../../src/store';
import { Notifications } from '../../src/store/notifications';
import { recorder } from '../../src/store/write';

async function main() {
  const { DATABASE_URL, SLACK_API_URL, LEASE_MS } = process.env;
  if (!DATABASE_URL || !SLACK_API_URL || !LEASE_MS)
    throw new Error('DATABASE_URL, SLACK_API_URL and LEASE_MS');
  const db = await openDb({ databaseUrl: DATABASE_URL, poolSize: 2 });
  const worker = new NotificationWorker({
    notifications: new Notifications(
      db,
      recorder((fn) => db.transaction(fn)),
    ),
    slackApiUrl: SLACK_API_URL,
    approvalUrl: (id) => `https://rolegate.example/approvals/${id}`,
    leaseMs: Number(LEASE_MS),
    pollMs: 20,
    log: (entry) => process.stdout.write(`${JSON.stringify(entry)}\n`),
  });
  worker.start();
  process.stdout.write('started\n');
  process.once('SIGTERM', () => {
    void worker
      .stop()
      .then(() => db.close())
      .then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

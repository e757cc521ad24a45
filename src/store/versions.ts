import { isUuid } from './ids';

/**
 * Where a request learns an organization's current version, the key of everything cached for it.
 *
 * PostgreSQL may be written by several replicas: the version is read from the database every time.
 * The embedded store is opened by one process, which makes every write itself: there the version is
 * kept in memory, advanced by each write after it commits and before the write returns, so a request
 * that starts after a write has returned always sees its version.
 */
export class Versions {
  private readonly known = new Map<string, bigint>();

  constructor(
    private readonly read: (orgId: string) => Promise<string | null>,
    private readonly inMemory: boolean,
  ) {}

  /** The organization's current version; null when it does not exist. */
  async current(orgId: string): Promise<string | null> {
    if (!isUuid(orgId)) return null;
    const kept = this.inMemory ? this.known.get(orgId) : undefined;
    if (kept !== undefined) return kept.toString();
    const version = await this.read(orgId);
    if (version === null || !this.inMemory) return version;
    this.advance(orgId, version);
    return this.known.get(orgId)!.toString();
  }

  /** A write committed at `version`. Versions only move forward: a read that raced a write never lowers one. */
  advance(orgId: string, version: string): void {
    if (!this.inMemory) return;
    const v = BigInt(version);
    const kept = this.known.get(orgId);
    if (kept === undefined || v > kept) this.known.set(orgId, v);
  }
}

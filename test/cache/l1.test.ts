import { L1Cache, VersionedLru } from '../../src/cache/l1';

/** The in-process cache's bookkeeping: older versions dropped in chunks, newer ones and other organizations kept. */
describe('VersionedLru', () => {
  const A = 'org-a';
  const B = 'org-b';

  it('drops the entries of older versions of one organization, and only those, without blocking', async () => {
    const lru = new VersionedLru<{ n: number }>(100_000, 60_000);
    for (let i = 0; i < 5_000; i++) lru.set(A, '1', `u${i}`, { n: i });
    for (let i = 0; i < 5_000; i++) lru.set(A, '2', `u${i}`, { n: i });
    for (let i = 0; i < 10; i++) lru.set(A, '3', `u${i}`, { n: i });
    for (let i = 0; i < 10; i++) lru.set(B, '1', `u${i}`, { n: i });
    lru.dropOlder(A, 3n);
    // The first chunk goes at once; the rest on later turns of the event loop.
    expect(lru.size).toBeLessThan(10_020);
    expect(lru.size).toBeGreaterThan(20);
    await new Promise((r) => setTimeout(r, 100));
    expect(lru.size).toBe(20);
    expect(lru.get(A, '1', 'u1')).toBeUndefined();
    expect(lru.get(A, '2', 'u4999')).toBeUndefined();
    expect(lru.get(A, '3', 'u9')).toEqual({ n: 9 });
    expect(lru.get(B, '1', 'u9')).toEqual({ n: 9 });
    // Entries written after the drop, at the dropped versions' keys, are kept (the index was reset).
    lru.set(A, '2', 'late', { n: -1 });
    expect(lru.get(A, '2', 'late')).toEqual({ n: -1 });
  });

  it('evictions and lifetimes keep the index small; clear drops everything', async () => {
    const lru = new VersionedLru<{ n: number }>(100, 50);
    for (let i = 0; i < 1_000; i++) lru.set(A, String(i % 7), `u${i}`, { n: i });
    expect(lru.size).toBe(100);
    lru.set(A, '9', 'short', { n: 0 }, 1);
    await new Promise((r) => setTimeout(r, 80));
    expect(lru.get(A, '9', 'short')).toBeUndefined();
    lru.clear();
    expect(lru.size).toBe(0);
  });

  it('L1Cache.dropOlder reaches every versioned map', async () => {
    const l1 = new L1Cache();
    l1.kind('path').set(A, '1', 'loc', ['loc']);
    l1.kind('subjects').set(A, '1', 'u', { userId: 'u', assignments: [] });
    l1.dropOlder(A, '2');
    await new Promise((r) => setImmediate(r));
    expect(l1.kind('path').get(A, '1', 'loc')).toBeUndefined();
    expect(l1.kind('subjects').get(A, '1', 'u')).toBeUndefined();
  });
});

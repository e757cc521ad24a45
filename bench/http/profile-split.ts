/**
 * Self time per function and per package of a `.cpuprofile`, per window of `store-profile.ts`
 * (`--windows FILE`: `{ name, start, end }` in monotonic µs, the profile's clock).
 * Usage: `tsx bench/http/profile-split.ts PROFILE WINDOWS [TOP]`.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
const [file, windowsFile, topArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file!, 'utf8')) as Profile;
const windows = JSON.parse(readFileSync(windowsFile!, 'utf8')) as {
  name: string;
  start: number;
  end: number;
  requests: number;
}[];
const TOP = Number(topArg ?? 25);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

function pkg(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native/builtin)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node:core';
  const s = /\/(src|bench|test)\/(.*?)\/?[^/]*$/.exec(url);
  if (s) return `${s[1]}/${s[2]}`;
  return url.includes('wasm') ? 'wasm' : url;
}

const groups = new Map<string, { fn: Map<string, number>; pkg: Map<string, number>; total: number }>();
const requests = new Map<string, number>();
for (const w of windows) requests.set(w.name, (requests.get(w.name) ?? 0) + w.requests);
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!;
  const w = windows.find((x) => t >= x.start && t < x.end);
  if (!w) continue;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const g = groups.get(w.name) ?? { fn: new Map(), pkg: new Map(), total: 0 };
  groups.set(w.name, g);
  const n = byId.get(profile.samples[i]!)!;
  const { functionName, url, lineNumber } = n.callFrame;
  const p = pkg(url, functionName);
  const f = `${functionName || '(anonymous)'} ${p}${url ? `:${lineNumber + 1}` : ''}`;
  g.total += dt;
  g.fn.set(f, (g.fn.get(f) ?? 0) + dt);
  g.pkg.set(p, (g.pkg.get(p) ?? 0) + dt);
}
const names = [...groups.keys()];
const table = (key: 'pkg' | 'fn') => {
  const all = new Map<string, number>();
  for (const g of groups.values())
    for (const [k, v] of g[key]) all.set(k, Math.max(all.get(k) ?? 0, v / g.total));
  const rows = [...all].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  console.log(
    `| ${key === 'pkg' ? 'package' : 'function'} | ${names.map((n) => `${n} µs/request (% of samples)`).join(' | ')} |`,
  );
  console.log(`| --- | ${names.map(() => '---:').join(' | ')} |`);
  for (const [k] of rows)
    console.log(
      `| ${k} | ${names
        .map((n) => {
          const g = groups.get(n)!;
          const v = g[key].get(k) ?? 0;
          return `${(v / requests.get(n)!).toFixed(1)} (${((100 * v) / g.total).toFixed(1)}%)`;
        })
        .join(' | ')} |`,
    );
};
console.log(
  `windows: ${names.map((n) => `${n} ${(groups.get(n)!.total / 1000).toFixed(0)} ms sampled, ${requests.get(n)} requests`).join('; ')}`,
);
const busy = (n: string) => {
  const g = groups.get(n)!;
  return (g.total - (g.pkg.get('(idle)') ?? 0)) / requests.get(n)!;
};
console.log(
  `main thread busy (not idle), µs/request: ${names.map((n) => `${n} ${busy(n).toFixed(0)}`).join(', ')}`,
);
table('pkg');
console.log();
table('fn');

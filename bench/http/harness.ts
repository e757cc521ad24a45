/**
 * The load generator's parent side, shared by the benchmarks that drive bench/http/cannon.ts (bench:http,
 * bench:coprocessor): spawns it as a child process, feeds it one `CannonSpec`, and resolves with its
 * `CannonResult`. The child is killed if the run is interrupted.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { undoOnInterrupt } from '../interrupt';
import type { CannonResult, CannonSpec } from './cannon';
import { log } from './stats';

const ROOT = path.resolve(__dirname, '..', '..');
const CANNON = path.join(__dirname, 'cannon.ts');

/** Runs the load generator in a child process; `onMeasuring` is called when its measured run starts. */
export function cannon(spec: CannonSpec, onMeasuring: () => void): Promise<CannonResult> {
  const onInterrupt = undoOnInterrupt(log);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CANNON], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const stop = () => child.kill('SIGTERM');
    onInterrupt.add(stop);
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0 && out.slice(0, nl) === 'measuring') {
        out = out.slice(nl + 1);
        onMeasuring();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      onInterrupt.delete(stop);
      if (code !== 0) return reject(new Error(`autocannon child exited with ${code}`));
      try {
        resolve(JSON.parse(out) as CannonResult);
      } catch (err) {
        reject(err as Error);
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

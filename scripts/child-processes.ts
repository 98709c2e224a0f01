// Children of the local stack and the test harness run in their own process
// groups (detached), so a terminal's Ctrl-C reaches only the parent, which
// then stops them in order (media host drains before DynamoDB goes away).
// As a safety net, whatever is still running when the parent exits is killed.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function spawnOwned(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const orphan of live) orphan.kill('SIGKILL');
    });
  }
  return child;
}

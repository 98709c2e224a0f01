// Runs AWS's DynamoDB Local (shipped in the npm package amplify-dynamodb-simulator)
// with the machine's Java, on a free loopback port. Used by the local stack and
// by vitest's global setup.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnOwned } from './child-processes.js';

/** amplify-dynamodb-simulator version that carries the emulator (pinned in dynamodb-local-install.sh) */
const DYNAMODB_LOCAL_VERSION = '2.9.30';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** the Java process (benchmarks lower its priority: in AWS it is not on the host's CPUs) */
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** persist tables in this folder instead of memory */
  dataDir?: string;
  port?: number;
}

/** Where scripts/dynamodb-local-install.sh (the postinstall) put DynamoDB Local. */
export function emulatorDir(): string {
  const cacheRoot =
    process.env.DYNAMODB_LOCAL_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'dynamodb-local');
  return path.join(cacheRoot, DYNAMODB_LOCAL_VERSION, 'emulator');
}

/** Explains what to install when Java or the emulator is missing. */
export function checkPrerequisites(): void {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (java.error || java.status !== 0) {
    throw new Error(
      'DynamoDB Local needs Java 17 or newer. Install it with: apt-get install -y openjdk-17-jre-headless (or run scripts/setup.sh)',
    );
  }
  if (!existsSync(path.join(emulatorDir(), 'DynamoDBLocal.jar'))) {
    throw new Error(
      `DynamoDB Local is not installed at ${emulatorDir()}. Run: sh scripts/dynamodb-local-install.sh (npm ci runs it)`,
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`DynamoDB Local did not open port ${port} within ${timeoutMs} ms`);
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  checkPrerequisites();
  const dir = emulatorDir();
  const port = options.port ?? (await freePort());
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const storage = options.dataDir ? ['-dbPath', path.resolve(options.dataDir)] : ['-inMemory'];
  const child = spawnOwned(
    'java',
    [
      '-Xmx512m',
      `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
      '-jar',
      path.join(dir, 'DynamoDBLocal.jar'),
      ...storage,
      '-port',
      String(port),
    ],
    // cwd: DynamoDB Local drops a metadata file into its working folder
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: options.dataDir ? path.resolve(options.dataDir) : os.tmpdir() },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    await waitForPort(port, child, 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/** Tests must never touch a real AWS endpoint. */
export function assertLocalEndpoint(endpoint: string): void {
  const host = new URL(endpoint).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    throw new Error(`Refusing to run tests against non-local DynamoDB endpoint ${endpoint}`);
  }
}

// Builds the demo page: one minified ESM bundle (SDK + page) plus index.html
// and styles.css. `npx tsx client/build.ts <outDir>` or `buildClient(outDir)`.
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const clientDir = path.dirname(fileURLToPath(import.meta.url));
const demoDir = path.join(clientDir, 'demo');

/** Browsers the contract supports (Chrome 90+, Firefox 88+, Safari 14+). */
export const CLIENT_TARGETS = ['chrome90', 'firefox88', 'safari14'];

export async function buildClient(outDir: string): Promise<void> {
  const out = path.resolve(outDir);
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [path.join(demoDir, 'app.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: CLIENT_TARGETS,
    // esbuild >= 0.28 flags destructuring as broken before Safari 14.1 (a WebKit edge-case bug) and cannot
    // lower it; emit it natively, as esbuild < 0.28 and Vite do, so Safari 14.0 stays a target.
    supported: { destructuring: true },
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
    // mediasoup-client's `debug` dependency reads these in the browser build
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  await Promise.all(
    ['index.html', 'styles.css'].map((file) => copyFile(path.join(demoDir, file), path.join(out, file))),
  );
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  const outDir = process.argv[2] ?? 'dist/client';
  buildClient(outDir).then(
    () => console.log(`client built into ${path.resolve(outDir)}`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

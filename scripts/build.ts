// `npm run build`: esbuild bundles for the Lambda handler, the media host and
// the browser client, into dist/. Prints each output's size.
import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { lambdaBundleOptions } from '../control/lambda-bundle.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(ROOT, 'dist');

// ESM bundles for Node still meet CommonJS dependencies that call require().
const requireShim =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export async function buildLambda(outfile = path.join(dist, 'control/lambda.mjs')): Promise<string> {
  // the same settings the control-plane benchmark measures
  await esbuild.build(lambdaBundleOptions({ entryPoint: path.join(ROOT, 'control/lambda.ts'), outfile }));
  return outfile;
}

export async function buildMediaHost(outfile = path.join(dist, 'media-host/main.mjs')): Promise<string> {
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'media-host/main.ts')],
    outfile,
    bundle: true,
    minify: false,
    sourcemap: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: requireShim },
    // the worker binary lives next to the mediasoup package: install it on the host
    external: ['mediasoup'],
    logLevel: 'warning',
  });
  return outfile;
}

async function main(): Promise<void> {
  await rm(dist, { recursive: true, force: true });
  const outputs = [await buildLambda(), await buildMediaHost()];
  const { buildClient } = (await import(pathToFileURL(path.join(ROOT, 'client/build.ts')).href)) as {
    buildClient(outDir: string): Promise<void>;
  };
  await buildClient(path.join(dist, 'client'));
  outputs.push(path.join(dist, 'client/app.js'));
  for (const file of outputs) {
    process.stdout.write(`${path.relative(ROOT, file).padEnd(28)} ${(statSync(file).size / 1024).toFixed(1)} KiB\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}

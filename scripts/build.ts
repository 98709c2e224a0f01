// `npm run build`: esbuild bundles for the Lambda handler, the media host and
// the browser client, into dist/. Prints each output's size.
import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { buildClient } from '../client/build.js';
import { lambdaBundleOptions } from '../control/lambda-bundle.js';
import { mediaHostBundleOptions } from '../media-host/bundle.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(ROOT, 'dist');

export async function buildLambda(outfile = path.join(dist, 'control/lambda.mjs')): Promise<string> {
  // the same settings the control-plane benchmark measures
  await esbuild.build(lambdaBundleOptions({ entryPoint: path.join(ROOT, 'control/lambda.ts'), outfile }));
  return outfile;
}

export async function buildMediaHost(outfile = path.join(dist, 'media-host/main.mjs')): Promise<string> {
  // the same settings infra's asset uses, plus a source map for local debugging
  await esbuild.build({
    ...mediaHostBundleOptions({ entryPoint: path.join(ROOT, 'media-host/main.ts'), outfile }),
    sourcemap: true,
  });
  return outfile;
}

async function main(): Promise<void> {
  await rm(dist, { recursive: true, force: true });
  const outputs = [await buildLambda(), await buildMediaHost()];
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

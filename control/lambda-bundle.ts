// esbuild settings for the control-plane Lambda bundle, shared by the
// benchmark and whoever packages the function (infra, scripts/build.ts).
// Not imported by the app itself. (zod stays small because every module
// imports it as `import * as z`, which esbuild can tree-shake; the `{ z }`
// form drags in all of zod's locales.)
import type { BuildOptions } from 'esbuild';

/** The AWS SDK v3 ships with the Lambda Node.js runtime, so the bundle can leave it out. */
export const LAMBDA_PROVIDED_MODULES = ['@aws-sdk/*', '@smithy/*'];

export interface LambdaBundleSettings {
  /** path of control/lambda.ts */
  entryPoint: string;
  outfile: string;
  /** leave the runtime-provided AWS SDK out of the bundle (default true) */
  externalAwsSdk?: boolean;
}

export function lambdaBundleOptions(settings: LambdaBundleSettings): BuildOptions {
  return {
    entryPoints: [settings.entryPoint],
    outfile: settings.outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // prefer ES module builds, which tree-shake
    mainFields: ['module', 'main'],
    external: settings.externalAwsSdk === false ? [] : LAMBDA_PROVIDED_MODULES,
    legalComments: 'none',
    logLevel: 'error',
    // CommonJS dependencies inside an ES module bundle still call require() for built-ins
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  };
}

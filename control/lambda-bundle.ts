// esbuild settings for the control-plane Lambda bundle, shared by the
// benchmark and whoever packages the function (infra, scripts/build.ts).
// Not imported by the app itself.
import path from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

/**
 * zod's `z` namespace re-exports every locale (~250 KB minified); we only
 * use the default English messages, which zod imports on its own.
 */
export const zodEnglishOnlyPlugin: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => {
      if (!/[/\\]zod[/\\]/.test(args.importer)) return undefined;
      return { path: path.join(path.dirname(args.importer), '../locales/index.js'), namespace: 'zod-locales' };
    });
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

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
    plugins: [zodEnglishOnlyPlugin],
    // CommonJS dependencies inside an ES module bundle still call require() for built-ins
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  };
}

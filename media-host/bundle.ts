// esbuild settings for the media-host bundle, shared by `npm run build`
// (scripts/build.ts) and the CDK asset (infra/). Not imported by the host.
import type { BuildOptions } from 'esbuild';

/**
 * Left out of the bundle and installed next to it: mediasoup carries its native
 * worker binary; ws' optional native helpers are not installed at all.
 */
export const MEDIA_HOST_EXTERNAL_PACKAGES = ['mediasoup'];
const OPTIONAL_NATIVE_HELPERS = ['bufferutil', 'utf-8-validate'];

export interface MediaHostBundleSettings {
  /** path of media-host/main.ts */
  entryPoint: string;
  outfile: string;
  externalPackages?: string[];
}

export function mediaHostBundleOptions(settings: MediaHostBundleSettings): BuildOptions {
  return {
    entryPoints: [settings.entryPoint],
    outfile: settings.outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // CommonJS dependencies inside an ES module bundle still call require()
    banner: {
      js: "import { createRequire as __rtcCreateRequire } from 'node:module'; const require = __rtcCreateRequire(import.meta.url);",
    },
    external: [...(settings.externalPackages ?? MEDIA_HOST_EXTERNAL_PACKAGES), ...OPTIONAL_NATIVE_HELPERS],
    legalComments: 'none',
    logLevel: 'warning',
  };
}

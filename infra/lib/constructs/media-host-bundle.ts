// The media-host program as an S3 asset, built at synth time with esbuild's JS
// API (never Docker). mediasoup stays external: its native worker is installed
// on the instance by `npm install`, which fetches the prebuilt worker there.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { MEDIA_HOST_EXTERNAL_PACKAGES, mediaHostBundleOptions } from '../../../media-host/bundle.js';

export interface MediaHostBundleProps {
  /** media-host/main.ts */
  entry: string;
  /** folder with package.json and node_modules (the repository root) */
  projectRoot: string;
  /** packages left out of the bundle and installed on the host; versions come from the root package.json */
  externalPackages?: string[];
}

/** file the bundle's entry is written to, relative to the unpacked asset */
export const MEDIA_HOST_MAIN = 'main.mjs';

export class MediaHostBundle extends Construct {
  readonly asset: Asset;

  constructor(scope: Construct, id: string, props: MediaHostBundleProps) {
    super(scope, id);
    const externalPackages = props.externalPackages ?? MEDIA_HOST_EXTERNAL_PACKAGES;
    const rootManifest = JSON.parse(readFileSync(join(props.projectRoot, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const dependencies: Record<string, string> = {};
    for (const name of externalPackages) {
      const version = rootManifest.dependencies?.[name];
      if (!version) throw new Error(`${name} is not a dependency in ${props.projectRoot}/package.json`);
      dependencies[name] = version;
    }

    this.asset = new Asset(this, 'Asset', {
      path: dirname(props.entry),
      // the hash is the bundle's own, so unrelated source edits do not roll the fleet
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // required by the type; unused because local bundling always succeeds or throws
        image: DockerImage.fromRegistry('node:20-slim'),
        local: {
          tryBundle(outputDir: string): boolean {
            buildSync({
              ...mediaHostBundleOptions({
                entryPoint: props.entry,
                outfile: join(outputDir, MEDIA_HOST_MAIN),
                externalPackages,
              }),
              absWorkingDir: props.projectRoot,
            });
            const manifest = { name: 'rtc-media-host', private: true, type: 'module', dependencies };
            writeFileSync(join(outputDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
            return true;
          },
        },
      },
    });
  }
}

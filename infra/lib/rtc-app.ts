// Composes the stacks. bin/app.ts calls this with the parsed context; the
// tests call it with their own config, so they check what gets deployed.
import { join } from 'node:path';
import { Annotations, type App, type Environment } from 'aws-cdk-lib';
import type { AppConfig } from './config.js';
import { ApiStack } from './stacks/api-stack.js';
import { DataStack } from './stacks/data-stack.js';
import { MediaStack } from './stacks/media-stack.js';

export interface RtcStacks {
  data: DataStack;
  media: MediaStack;
  api: ApiStack;
}

export interface RtcAppOptions {
  config: AppConfig;
  /** the repository root: package.json, control/, media-host/ */
  projectRoot: string;
  env?: Environment;
  /** defaults: <projectRoot>/control/lambda.ts and <projectRoot>/media-host/main.ts */
  entries?: { control?: string; mediaHost?: string };
}

export function createRtcStacks(app: App, options: RtcAppOptions): RtcStacks {
  const { config, projectRoot, env } = options;
  const prefix = config.stackPrefix;

  const data = new DataStack(app, `${prefix}Data`, {
    env,
    description: 'RTC: DynamoDB tables and secrets (stateful, termination protected)',
    signingKeyVersion: config.signingKeyVersion,
  });
  const media = new MediaStack(app, `${prefix}Media`, {
    env,
    description: 'RTC: VPC, coturn and the mediasoup media-host fleet',
    config,
    data,
    mediaHostEntry: options.entries?.mediaHost ?? join(projectRoot, 'media-host', 'main.ts'),
    projectRoot,
  });
  const api = new ApiStack(app, `${prefix}Api`, {
    env,
    description: 'RTC: control plane (Lambda + HTTP API)',
    config,
    data,
    controlEntry: options.entries?.control ?? join(projectRoot, 'control', 'lambda.ts'),
    projectRoot,
    turnUrls: media.turn.turnUrls,
    stunUrls: media.turn.stunUrls,
    turnHost: media.turn.hostName,
  });

  if (config.placeholders.length > 0) {
    for (const stack of [data, media, api]) {
      Annotations.of(stack).addWarningV2(
        'rtc:placeholder-context',
        `context ${config.placeholders.join(', ')} still hold the cdk.json examples; pass real values with -c before deploying`,
      );
    }
  }
  return { data, media, api };
}

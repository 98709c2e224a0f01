// The CDK app. This is the only place that reads configuration: CDK context
// (cdk.json defaults, overridden with -c key=value) and the CLI's account/region.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { parseAppConfig } from '../lib/config.js';
import { createRtcStacks } from '../lib/rtc-app.js';

const app = new App();
const config = parseAppConfig((key) => app.node.tryGetContext(key));
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const region = (app.node.tryGetContext('region') as string | undefined) ?? process.env.CDK_DEFAULT_REGION;
const account = process.env.CDK_DEFAULT_ACCOUNT;

createRtcStacks(app, { config, projectRoot, env: account || region ? { account, region } : undefined });
app.synth();

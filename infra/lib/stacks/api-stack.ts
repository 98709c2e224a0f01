// The serverless control plane and what a web client needs to reach it.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { AppConfig } from '../config.js';
import { ControlApi } from '../constructs/control-api.js';
import type { DataStack } from './data-stack.js';

export interface ApiStackProps extends StackProps {
  config: AppConfig;
  data: DataStack;
  /** control/lambda.ts */
  controlEntry: string;
  projectRoot: string;
  turnUrls: string[];
  stunUrls: string[];
  turnHost: string;
}

export class ApiStack extends Stack {
  readonly api: ControlApi;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config, data } = props;

    this.api = new ControlApi(this, 'ControlApi', {
      entry: props.controlEntry,
      projectRoot: props.projectRoot,
      tables: data.tables.tables,
      signingKeySecret: data.signingKey.privateKeySecret,
      turnSecret: data.turnSecret,
      turnUrls: props.turnUrls,
      stunUrls: [...props.stunUrls, ...config.turn.extraStunUrls],
      webOrigins: config.webOrigins,
      accessToken: config.accessToken,
      controlIssuer: config.controlIssuer,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'control-plane base URL for the web client' });
    new CfnOutput(this, 'Region', { value: this.region });
    new CfnOutput(this, 'TurnHost', { value: props.turnHost });
    new CfnOutput(this, 'WebClientConfig', {
      description: 'JSON for the web client (the TURN credentials come from GET .../media-config)',
      value: this.toJsonString({ apiUrl: this.api.url, region: this.region, turnHost: props.turnHost }),
    });
  }
}

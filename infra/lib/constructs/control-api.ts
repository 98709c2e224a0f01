// The control plane: one Lambda (the Hono app behind hono/aws-lambda) behind an
// HTTP API that proxies every path to it. Configuration arrives as props and
// becomes environment variables; secrets arrive as ARNs only.
//
// Ending a meeting, the Lambda calls the media host's admin endpoint over the
// internet: `POST https://<instance-id>.<media domain>/...` (the host's
// adminUrl in the registry) with a 30 s ES256 service token. The Lambda needs
// no VPC and the host opens nothing beyond its public 443.
import { Duration } from 'aws-cdk-lib';
import { type CfnStage, CorsHttpMethod, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  Architecture,
  LoggingFormat,
  ParamsAndSecretsLayerVersion,
  ParamsAndSecretsLogLevel,
  ParamsAndSecretsVersions,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { LAMBDA_PROVIDED_MODULES } from '../../../control/lambda-bundle.js';

export interface ControlApiProps {
  /** the Lambda entry (control/lambda.ts, exporting `handler`) */
  entry: string;
  /** folder holding package-lock.json, for esbuild's resolution */
  projectRoot: string;
  tables: { meetings: ITable; hosts: ITable };
  signingKeySecret: ISecret;
  turnSecret: ISecret;
  turnUrls: string[];
  stunUrls: string[];
  /** browser origins allowed by CORS (and passed to the app) */
  webOrigins: string[];
  accessToken: { jwksUrl: string; issuer: string; audience: string };
  controlIssuer: string;
  turnCredentialTtl?: Duration;
  memorySize?: number;
  timeout?: Duration;
  /** API-wide steady-state requests per second and burst */
  throttle?: { rateLimit: number; burstLimit: number };
}

// ESM bundles keep CommonJS dependencies working through a real require.
const REQUIRE_BANNER =
  "import { createRequire as __rtcCreateRequire } from 'node:module'; const require = __rtcCreateRequire(import.meta.url);";

export class ControlApi extends Construct {
  readonly handler: NodejsFunction;
  readonly httpApi: HttpApi;
  /** base URL of the API, without a trailing slash */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ControlApiProps) {
    super(scope, id);

    this.handler = new NodejsFunction(this, 'Handler', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      runtime: Runtime.NODEJS_20_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      loggingFormat: LoggingFormat.JSON,
      // The AWS Parameters and Secrets extension serves the *_SECRET_ARN values on
      // http://localhost:2773/secretsmanager/get?secretId=<arn> (header
      // X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN), so the bundle needs no
      // Secrets Manager SDK; the runtime's @aws-sdk/* (left external) also works.
      paramsAndSecrets: ParamsAndSecretsLayerVersion.fromVersion(ParamsAndSecretsVersions.V1_0_103, {
        cacheSize: 10,
        logLevel: ParamsAndSecretsLogLevel.WARN,
      }),
      logGroup: new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH }),
      bundling: {
        // esbuild from node_modules; never Docker
        forceDockerBundling: false,
        minify: true,
        target: 'node20',
        format: OutputFormat.ESM,
        banner: REQUIRE_BANNER,
        // prefer ES module builds, which tree-shake
        mainFields: ['module', 'main'],
        // provided by the Lambda Node.js runtime (AWS SDK v3, including Secrets Manager)
        externalModules: [...LAMBDA_PROVIDED_MODULES],
      },
      environment: {
        TABLE_MEETINGS: props.tables.meetings.tableName,
        TABLE_HOSTS: props.tables.hosts.tableName,
        ACCESS_TOKEN_JWKS_URL: props.accessToken.jwksUrl,
        ACCESS_TOKEN_ISSUER: props.accessToken.issuer,
        ACCESS_TOKEN_AUDIENCE: props.accessToken.audience,
        MEDIA_SIGNING_KEY_SECRET_ARN: props.signingKeySecret.secretArn,
        TURN_SECRET_ARN: props.turnSecret.secretArn,
        TURN_URLS: props.turnUrls.join(','),
        STUN_URLS: props.stunUrls.join(','),
        TURN_TTL_SECONDS: String((props.turnCredentialTtl ?? Duration.hours(1)).toSeconds()),
        CONTROL_ISSUER: props.controlIssuer,
        WEB_ORIGINS: props.webOrigins.join(','),
      },
      description: 'RTC control plane (Hono): meetings, media-config, placement, media sessions',
    });

    // Least privilege: item access on exactly these two tables, read of exactly these two secrets.
    props.tables.meetings.grantReadWriteData(this.handler);
    props.tables.hosts.grantReadWriteData(this.handler);
    props.signingKeySecret.grantRead(this.handler);
    props.turnSecret.grantRead(this.handler);

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'RTC control plane',
      corsPreflight: {
        allowOrigins: props.webOrigins,
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.OPTIONS],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.hours(1),
      },
    });
    this.httpApi.addRoutes({
      path: '/{proxy+}',
      methods: [HttpMethod.ANY],
      integration: new HttpLambdaIntegration('Proxy', this.handler),
    });

    const throttle = props.throttle ?? { rateLimit: 200, burstLimit: 400 };
    const stage = this.httpApi.defaultStage?.node.defaultChild as CfnStage;
    stage.defaultRouteSettings = {
      throttlingRateLimit: throttle.rateLimit,
      throttlingBurstLimit: throttle.burstLimit,
    };

    this.url = this.httpApi.apiEndpoint;
  }
}

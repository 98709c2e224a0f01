import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOf,
  importsAttribute,
  onlyResource,
  resources,
  resourcesOf,
  type SynthesizedApp,
  stagedAssetDir,
  statementsForRole,
  synthRtcApp,
} from './synth.js';

let synth: SynthesizedApp;
let api: Template;

beforeAll(() => {
  synth = synthRtcApp();
  api = synth.templates.api;
});

function handler() {
  return onlyResource(api, 'AWS::Lambda::Function', 'ControlApiHandler');
}

function environment(): Record<string, unknown> {
  return ((handler()[1].Properties.Environment as { Variables: Record<string, unknown> }) ?? { Variables: {} })
    .Variables;
}

describe('ControlApi: the Lambda', () => {
  it('runs Node 20 on arm64 with small memory and an API-sized timeout', () => {
    expect(handler()[1].Properties).toMatchObject({
      Runtime: 'nodejs20.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 10,
      Handler: 'index.handler',
    });
    expect(handler()[1].Properties.FunctionName).toBeUndefined();
  });

  it('is bundled locally by esbuild from control/lambda.ts as minified ESM exporting handler', () => {
    const code = synth.stacks.api.api.handler.node.findAll().find((child): child is Asset => child instanceof Asset);
    expect(code).toBeDefined();
    const file = join(stagedAssetDir(synth.app, code!.assetPath), 'index.mjs');
    expect(existsSync(file)).toBe(true);
    const source = readFileSync(file, 'utf8');
    expect(source).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}/);
    expect(source).toContain('createRequire');
    // minified: long lines, not one statement per line
    expect(source.length / source.split('\n').length).toBeGreaterThan(1000);
  });

  it('gets its configuration as environment variables from props', () => {
    const env = environment();
    expect(env).toMatchObject({
      ACCESS_TOKEN_JWKS_URL: 'https://auth.rtc.test/.well-known/jwks.json',
      ACCESS_TOKEN_ISSUER: 'https://auth.rtc.test/',
      ACCESS_TOKEN_AUDIENCE: 'rtc-api',
      CONTROL_ISSUER: 'rtc-control-plane',
      WEB_ORIGINS: 'https://app.rtc.test,https://admin.rtc.test',
      TURN_URLS:
        'turn:turn.rtc.test:3478?transport=udp,turn:turn.rtc.test:3478?transport=tcp,turns:turn.rtc.test:443?transport=tcp',
      STUN_URLS: 'stun:turn.rtc.test:3478',
      TURN_TTL_SECONDS: '3600',
    });
    expect(importsAttribute(env.TABLE_MEETINGS, 'MeetingsTable', 'Ref')).toBe(true);
    expect(importsAttribute(env.TABLE_HOSTS, 'HostsTable', 'Ref')).toBe(true);
    expect(importsAttribute(env.MEDIA_SIGNING_KEY_SECRET_ARN, 'SigningKeyPrivateKey', 'Ref')).toBe(true);
    expect(importsAttribute(env.TURN_SECRET_ARN, 'TurnSecret', 'Ref')).toBe(true);
  });

  it('never carries secret values or dev mode in its environment', () => {
    const env = environment();
    for (const name of ['MEDIA_SIGNING_KEY', 'TURN_SECRET', 'ACCESS_TOKEN_HS256_SECRET', 'DEV_MODE']) {
      expect(env).not.toHaveProperty(name);
    }
  });

  it('has the Parameters and Secrets extension for fetching the *_SECRET_ARN values', () => {
    expect(handler()[1].Properties.Layers).toHaveLength(1);
    expect(JSON.stringify(handler()[1].Properties.Layers)).toMatch(/paramsandsecrets/i);
  });
});

describe('ControlApi: least privilege', () => {
  const statements = () => statementsForRole(api, 'ControlApiHandlerServiceRole');

  it('reads and writes items of exactly the two tables', () => {
    const dynamo = statements().filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    const tableResources = dynamo.flatMap(resourcesOf);
    expect(tableResources.some((r) => importsAttribute(r, 'MeetingsTable', 'Arn'))).toBe(true);
    expect(tableResources.some((r) => importsAttribute(r, 'HostsTable', 'Arn'))).toBe(true);
    for (const resource of tableResources) {
      expect(
        importsAttribute(resource, 'MeetingsTable', 'Arn') || importsAttribute(resource, 'HostsTable', 'Arn'),
      ).toBe(true);
    }
    const actions = dynamo.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']));
    expect(actions).not.toContain('dynamodb:*');
    expect(actions.filter((a) => /^dynamodb:(Create|Delete)Table/.test(a))).toEqual([]);
  });

  it('reads exactly its two secrets', () => {
    const secrets = statements().filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secrets.flatMap(actionsOf).sort()).toEqual(
      expect.arrayContaining(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']),
    );
    expect(secrets.flatMap(actionsOf)).not.toContain('secretsmanager:PutSecretValue');
    const secretResources = secrets.flatMap(resourcesOf);
    expect(secretResources).toHaveLength(2);
    expect(secretResources.some((r) => importsAttribute(r, 'SigningKeyPrivateKey', 'Ref'))).toBe(true);
    expect(secretResources.some((r) => importsAttribute(r, 'TurnSecret', 'Ref'))).toBe(true);
  });

  it('has no statement with a wildcard action or resource', () => {
    for (const statement of statements()) {
      expect(resourcesOf(statement)).not.toContain('*');
      for (const action of actionsOf(statement)) expect(action).not.toMatch(/(^\*$|:\*$)/);
    }
  });
});

describe('ControlApi: the HTTP API', () => {
  it('is an HTTP API with CORS for the web origins', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: {
        AllowOrigins: ['https://app.rtc.test', 'https://admin.rtc.test'],
        AllowHeaders: ['authorization', 'content-type'],
        AllowMethods: Match.arrayWith(['GET', 'POST']),
        MaxAge: 3600,
      },
    });
  });

  it('proxies ANY /{proxy+} to the Lambda (payload v2)', () => {
    const [handlerId] = handler();
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /{proxy+}' });
    api.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [handlerId, 'Arn'] },
    });
    api.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [handlerId, 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
    });
  });

  it('deploys a throttled $default stage', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
    });
  });

  it('outputs what a web client needs: API URL, region, TURN host', () => {
    const outputs = api.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['ApiUrl', 'Region', 'TurnHost', 'WebClientConfig']));
    const [apiId] = onlyResource(api, 'AWS::ApiGatewayV2::Api', 'ControlApiHttpApi');
    expect(outputs.ApiUrl?.Value).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
    expect(outputs.TurnHost?.Value).toBe('turn.rtc.test');
    expect(outputs.Region?.Value).toEqual({ Ref: 'AWS::Region' });
    expect(JSON.stringify(outputs.WebClientConfig?.Value)).toContain('apiUrl');
  });

  it('logs to a log group with a retention', () => {
    expect(resources(api, 'AWS::Logs::LogGroup')).toHaveLength(1);
    api.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

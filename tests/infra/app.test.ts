import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppConfigError, parseAppConfig } from '../../infra/lib/config.js';
import {
  actionsOf,
  allStatements,
  repoRoot,
  resources,
  resourcesOf,
  type SynthesizedApp,
  synthRtcApp,
  testContext,
} from './synth.js';

let synth: SynthesizedApp;
let templates: [string, Template][];

beforeAll(() => {
  synth = synthRtcApp();
  templates = Object.entries(synth.templates);
});

describe('the whole app', () => {
  it('synthesizes without context lookups (nothing missing, no Docker)', () => {
    const assembly = synth.app.synth();
    expect(assembly.manifest.missing ?? []).toEqual([]);
    expect(assembly.stacks.map((stack) => stack.stackName).sort()).toEqual(['RtcApi', 'RtcData', 'RtcMedia']);
  });

  it('names no physical resources', () => {
    const physicalNameKeys: Record<string, string> = {
      'AWS::DynamoDB::Table': 'TableName',
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::IAM::Role': 'RoleName',
      'AWS::SecretsManager::Secret': 'Name',
      'AWS::SSM::Parameter': 'Name',
      'AWS::AutoScaling::AutoScalingGroup': 'AutoScalingGroupName',
      'AWS::AutoScaling::LifecycleHook': 'LifecycleHookName',
      'AWS::EC2::LaunchTemplate': 'LaunchTemplateName',
      'AWS::EC2::SecurityGroup': 'GroupName',
      'AWS::Logs::LogGroup': 'LogGroupName',
      'AWS::IAM::InstanceProfile': 'InstanceProfileName',
    };
    let checked = 0;
    for (const [, template] of templates) {
      for (const [id, resource] of resources(template)) {
        const key = physicalNameKeys[resource.Type];
        if (!key) continue;
        checked += 1;
        expect(resource.Properties[key], `${id}.${key}`).toBeUndefined();
      }
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('grants no wildcard actions, and data actions only on specific resources', () => {
    // the only statements on "*" are these metadata calls without resource-level permissions
    const allowedOnAnyResource = new Set(['route53:ListHostedZones', 'autoscaling:DescribeLifecycleHooks']);
    let checked = 0;
    for (const [name, template] of templates) {
      for (const statement of allStatements(template)) {
        checked += 1;
        for (const action of actionsOf(statement)) expect(action, name).not.toMatch(/(^\*$|:\*|\*$)/);
        if (resourcesOf(statement).includes('*')) {
          expect(
            actionsOf(statement).filter((action) => !allowedOnAnyResource.has(action)),
            name,
          ).toEqual([]);
        }
        const dataActions = actionsOf(statement).filter((action) =>
          /^(dynamodb|secretsmanager|ssm|s3|kms):/.test(action),
        );
        if (dataActions.length > 0) {
          for (const resource of resourcesOf(statement)) expect(JSON.stringify(resource)).not.toMatch(/^"\*"$|\/\*"$/);
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});

describe('configuration from context', () => {
  it('parses the deployment settings', () => {
    expect(synth.config).toMatchObject({
      webOrigins: ['https://app.rtc.test', 'https://admin.rtc.test'],
      dns: {
        hostedZoneId: 'Z0123456789TESTZONE',
        zoneName: 'rtc.test',
        mediaSubdomain: 'media',
        turnRecordName: 'turn',
      },
      media: { instanceType: 'c7g.xlarge', minCapacity: 1, maxCapacity: 3, workersPerHost: 4 },
      placeholders: [],
    });
  });

  it('refuses missing or invalid required values, naming them', () => {
    const read = (overrides: Record<string, unknown>) => (key: string) =>
      key in overrides ? overrides[key] : testContext[key];
    expect(() => parseAppConfig(read({ hostedZoneId: undefined, webOrigins: '' }))).toThrow(AppConfigError);
    let caught: unknown;
    try {
      parseAppConfig(read({ hostedZoneId: undefined, webOrigins: 'app.rtc.test', mediaMinCapacity: '5' }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppConfigError);
    const problems = (caught as AppConfigError).problems.join('\n');
    expect(problems).toContain('hostedZoneId');
    expect(problems).toContain('webOrigins entry "app.rtc.test"');
    expect(problems).toContain('mediaMinCapacity must not exceed mediaMaxCapacity');
  });

  it('flags the cdk.json example values so a deploy with them is warned about', () => {
    const cdkJson = JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    };
    const config = parseAppConfig((key) => cdkJson.context[key]);
    expect(config.placeholders).toEqual(
      expect.arrayContaining(['webOrigins', 'hostedZoneDomain', 'accessTokenJwksUrl']),
    );
  });
});

describe('cdk synth through the CLI', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'rtc-cdk-synth-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('works offline with the cdk.json defaults: no lookups, no Docker', { timeout: 240_000 }, () => {
    const started = performance.now();
    const result = spawnSync('npx', ['cdk', 'synth', '-q', '--no-notices', '-o', outdir], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: {
        ...process.env,
        CDK_DOCKER: '/nonexistent/docker',
        CDK_DISABLE_VERSION_CHECK: '1',
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      },
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`cdk synth (all stacks) took ${seconds} s`);
    expect(result.status, result.stderr).toBe(0);
    for (const stack of ['RtcData', 'RtcMedia', 'RtcApi']) {
      expect(existsSync(join(outdir, `${stack}.template.json`))).toBe(true);
    }
    expect(result.stderr).toContain('still hold the cdk.json examples');
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { missing?: unknown[] };
    expect(manifest.missing ?? []).toEqual([]);
  });
});

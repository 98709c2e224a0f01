// Builds the real stack set (the same createRtcStacks that bin/app.ts uses)
// with a test context, and reads synthesized templates.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type AppConfig, parseAppConfig } from '../../infra/lib/config.js';
import { createRtcStacks, type RtcStacks } from '../../infra/lib/rtc-app.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const testContext: Record<string, unknown> = {
  webOrigins: 'https://app.rtc.test,https://admin.rtc.test',
  accessTokenJwksUrl: 'https://auth.rtc.test/.well-known/jwks.json',
  accessTokenIssuer: 'https://auth.rtc.test/',
  accessTokenAudience: 'rtc-api',
  hostedZoneId: 'Z0123456789TESTZONE',
  hostedZoneDomain: 'rtc.test',
  acmeEmail: 'ops@rtc.test',
  mediaInstanceType: 'c7g.xlarge',
  mediaMinCapacity: '1',
  mediaMaxCapacity: '3',
  rtcWorkersPerHost: '4',
  rtcPortBase: '40000',
  drainDeadlineSeconds: '600',
  turnInstanceType: 't4g.small',
};

export interface SynthesizedApp {
  app: App;
  config: AppConfig;
  stacks: RtcStacks;
  templates: { data: Template; media: Template; api: Template };
}

export function synthRtcApp(context: Record<string, unknown> = testContext): SynthesizedApp {
  // any attempt to bundle with Docker fails loudly instead of silently working
  process.env.CDK_DOCKER = '/nonexistent/docker';
  const app = new App();
  const config = parseAppConfig((key) => context[key]);
  const stacks = createRtcStacks(app, { config, projectRoot: repoRoot });
  return {
    app,
    config,
    stacks,
    templates: {
      data: Template.fromStack(stacks.data),
      media: Template.fromStack(stacks.media),
      api: Template.fromStack(stacks.api),
    },
  };
}

type Json = unknown;

/** Fn::Join/Fn::Base64 flattened to text; other intrinsics become {"Ref":...} JSON placeholders */
export function flatten(value: Json): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, Json>;
    if ('Fn::Base64' in record) return flatten(record['Fn::Base64']);
    if ('Fn::Join' in record) {
      const [separator, parts] = record['Fn::Join'] as [string, Json[]];
      return parts.map(flatten).join(separator);
    }
  }
  return `{${JSON.stringify(value)}}`;
}

export interface Resource {
  Type: string;
  Properties: Record<string, Json>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
}

export function resources(template: Template, type?: string): [string, Resource][] {
  const all = Object.entries((template.toJSON() as { Resources: Record<string, Resource> }).Resources);
  return type ? all.filter(([, resource]) => resource.Type === type) : all;
}

export function onlyResource(template: Template, type: string, idPrefix = ''): [string, Resource] {
  const matches = resources(template, type).filter(([id]) => id.startsWith(idPrefix));
  if (matches.length !== 1)
    throw new Error(`expected one ${type} starting with "${idPrefix}", found ${matches.length}`);
  return matches[0]!;
}

/** the decoded user-data script of a launch template */
export function userDataOf(template: Template, launchTemplateIdPrefix: string): string {
  const [, launchTemplate] = onlyResource(template, 'AWS::EC2::LaunchTemplate', launchTemplateIdPrefix);
  const data = launchTemplate.Properties.LaunchTemplateData as Record<string, Json>;
  return flatten(data.UserData);
}

export interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource: Json;
  Condition?: Record<string, Record<string, Json>>;
}

export function actionsOf(statement: PolicyStatementJson): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

export function resourcesOf(statement: PolicyStatementJson): Json[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** statements of every AWS::IAM::Policy (and inline role policy) attached to a role whose logical id starts with rolePrefix */
export function statementsForRole(template: Template, rolePrefix: string): PolicyStatementJson[] {
  const statements: PolicyStatementJson[] = [];
  for (const [id, resource] of resources(template)) {
    if (resource.Type === 'AWS::IAM::Policy') {
      const roles = (resource.Properties.Roles as Json[]) ?? [];
      const attached = roles.some((role) => JSON.stringify(role).includes(`"${rolePrefix}`));
      if (attached) statements.push(...policyStatements(resource.Properties.PolicyDocument));
    }
    if (resource.Type === 'AWS::IAM::Role' && id.startsWith(rolePrefix)) {
      for (const policy of (resource.Properties.Policies as { PolicyDocument: Json }[]) ?? []) {
        statements.push(...policyStatements(policy.PolicyDocument));
      }
    }
  }
  return statements;
}

export function allStatements(template: Template): PolicyStatementJson[] {
  const statements: PolicyStatementJson[] = [];
  for (const [, resource] of resources(template)) {
    if (resource.Type === 'AWS::IAM::Policy') statements.push(...policyStatements(resource.Properties.PolicyDocument));
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (resource.Properties.Policies as { PolicyDocument: Json }[]) ?? []) {
        statements.push(...policyStatements(policy.PolicyDocument));
      }
    }
  }
  return statements;
}

function policyStatements(document: Json): PolicyStatementJson[] {
  return ((document as { Statement?: PolicyStatementJson[] } | undefined)?.Statement ?? []).filter(
    (statement) => statement.Effect === 'Allow',
  );
}

/** e.g. {"Fn::ImportValue":"RtcData:ExportsOutputFnGetAttHostsTableArn..."} -> true for ("HostsTable", "Arn") */
export function importsAttribute(value: Json, logicalId: string, attribute: 'Arn' | 'Ref'): boolean {
  const text = JSON.stringify(value);
  return attribute === 'Arn'
    ? new RegExp(`ExportsOutputFnGetAtt${logicalId}Arn`).test(text)
    : new RegExp(`ExportsOutputRef${logicalId}`).test(text);
}

export function stagedAssetDir(app: App, assetPath: string): string {
  return join(app.outdir, assetPath);
}

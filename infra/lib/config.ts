// Deployment configuration: one typed object, parsed from CDK context by
// bin/app.ts (the only place that reads context). Constructs receive props.

export interface AppConfig {
  /** prefix of the stack ids, so two deployments can share an account */
  stackPrefix: string;
  webOrigins: string[];
  accessToken: { jwksUrl: string; issuer: string; audience: string };
  controlIssuer: string;
  dns: {
    hostedZoneId: string;
    /** the hosted zone's domain, e.g. example.com */
    zoneName: string;
    /** media hosts register `<instance-id>.<mediaSubdomain>.<zoneName>` */
    mediaSubdomain: string;
    /** the TURN server is `<turnRecordName>.<zoneName>` */
    turnRecordName: string;
  };
  acme: { email?: string; directoryUrl?: string };
  vpcCidr: string;
  media: {
    instanceType: string;
    minCapacity: number;
    maxCapacity: number;
    desiredCapacity?: number;
    workersPerHost: number;
    rtcPortBase: number;
    meetingsPerHost: number;
    drainDeadlineSeconds: number;
    nodeVersion: string;
  };
  turn: { instanceType: string; extraStunUrls: string[] };
  signingKeyVersion: number;
  /** values that are still the cdk.json examples (synth works, deploy would not) */
  placeholders: string[];
}

export class AppConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid CDK context: ${problems.join('; ')}`);
    this.name = 'AppConfigError';
  }
}

/** cdk.json ships these so `cdk synth` runs without arguments; deploys must override them. */
export const PLACEHOLDER_MARK = 'example';

type ReadContext = (key: string) => unknown;

export function parseAppConfig(read: ReadContext): AppConfig {
  const problems: string[] = [];
  const placeholders: string[] = [];

  const text = (key: string, fallback?: string): string => {
    const raw = read(key);
    const value = typeof raw === 'string' ? raw.trim() : raw === undefined || raw === null ? '' : String(raw);
    if (value) {
      if (value.toLowerCase().includes(PLACEHOLDER_MARK)) placeholders.push(key);
      return value;
    }
    if (fallback !== undefined) return fallback;
    problems.push(`context "${key}" is required (-c ${key}=...)`);
    return '';
  };
  const optionalText = (key: string): string | undefined => text(key, '') || undefined;
  const list = (key: string, required: boolean): string[] => {
    const raw = read(key);
    const items = (Array.isArray(raw) ? raw.map(String) : String(raw ?? '').split(','))
      .map((item) => item.trim())
      .filter(Boolean);
    if (required && items.length === 0) problems.push(`context "${key}" is required (comma list)`);
    if (items.some((item) => item.includes(PLACEHOLDER_MARK))) placeholders.push(key);
    return items;
  };
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const raw = read(key);
    if (raw === undefined || raw === null || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`context "${key}" must be an integer in ${min}..${max}`);
      return fallback;
    }
    return value;
  };

  const webOrigins = list('webOrigins', true);
  for (const origin of webOrigins) {
    if (!/^https?:\/\/[^/]+$/.test(origin))
      problems.push(`webOrigins entry "${origin}" must be an origin like https://app.example.org`);
  }
  const jwksUrl = text('accessTokenJwksUrl');
  if (jwksUrl && !/^https:\/\//.test(jwksUrl)) problems.push('accessTokenJwksUrl must be an https URL');

  const hostedZoneId = text('hostedZoneId');
  const zoneName = text('hostedZoneDomain').replace(/\.$/, '');

  const minCapacity = integer('mediaMinCapacity', 1, 0, 100);
  const maxCapacity = integer('mediaMaxCapacity', 2, 1, 100);
  const rawDesired = read('mediaDesiredCapacity');
  const desiredCapacity =
    rawDesired === undefined || rawDesired === null || rawDesired === ''
      ? undefined
      : integer('mediaDesiredCapacity', minCapacity, 0, 100);
  if (minCapacity > maxCapacity) problems.push('mediaMinCapacity must not exceed mediaMaxCapacity');
  if (desiredCapacity !== undefined && (desiredCapacity < minCapacity || desiredCapacity > maxCapacity)) {
    problems.push('mediaDesiredCapacity must lie between mediaMinCapacity and mediaMaxCapacity');
  }

  const config: AppConfig = {
    stackPrefix: text('stackPrefix', 'Rtc'),
    webOrigins,
    accessToken: {
      jwksUrl,
      issuer: text('accessTokenIssuer'),
      audience: text('accessTokenAudience', 'rtc-api'),
    },
    controlIssuer: text('controlIssuer', 'rtc-control-plane'),
    dns: {
      hostedZoneId,
      zoneName,
      mediaSubdomain: text('mediaSubdomain', 'media'),
      turnRecordName: text('turnRecordName', 'turn'),
    },
    acme: { email: optionalText('acmeEmail'), directoryUrl: optionalText('acmeDirectoryUrl') },
    vpcCidr: text('vpcCidr', '10.42.0.0/16'),
    media: {
      instanceType: text('mediaInstanceType', 'c7g.large'),
      minCapacity,
      maxCapacity,
      desiredCapacity,
      workersPerHost: integer('rtcWorkersPerHost', 2, 1, 64),
      rtcPortBase: integer('rtcPortBase', 40000, 1024, 65000),
      meetingsPerHost: integer('meetingsPerHost', 100, 1, 10_000),
      drainDeadlineSeconds: integer('drainDeadlineSeconds', 600, 0, 6000),
      nodeVersion: text('nodeVersion', '20.20.2'),
    },
    turn: { instanceType: text('turnInstanceType', 't4g.small'), extraStunUrls: list('extraStunUrls', false) },
    signingKeyVersion: integer('signingKeyVersion', 1, 1, 1_000_000),
    placeholders,
  };
  if (!/^\d+\.\d+\.\d+$/.test(config.media.nodeVersion)) problems.push('nodeVersion must look like 20.20.2');
  if (problems.length > 0) throw new AppConfigError(problems);
  return config;
}

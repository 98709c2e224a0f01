// The Lambda entry point with real API Gateway HTTP API (payload v2) events,
// against DynamoDB Local.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LambdaEvent } from 'hono/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../control/lambda.js';
import { silentLogger } from '../../shared/logger.js';
import { signToken } from '../../shared/tokens.js';
import { createTestTables, type TestTables } from '../support/dynamo.js';
import { ACCESS_AUDIENCE, ACCESS_ISSUER, ACCESS_SECRET, generateMediaKeys } from './helpers.js';

let tables: TestTables;
let env: Record<string, string>;

beforeAll(async () => {
  tables = await createTestTables();
  env = {
    AWS_REGION: tables.region,
    DYNAMODB_ENDPOINT: tables.endpoint,
    TABLE_MEETINGS: tables.names.meetings,
    TABLE_HOSTS: tables.names.hosts,
    ACCESS_TOKEN_HS256_SECRET: ACCESS_SECRET,
    MEDIA_SIGNING_KEY: generateMediaKeys().privateKeyPem,
    TURN_SECRET: 'lambda-turn-secret',
    TURN_URLS: 'turn:turn.test:3478?transport=udp',
  };
});

function apiGatewayV2Event(options: {
  method: string;
  path: string;
  routeKey: string;
  pathParameters?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}): LambdaEvent {
  return {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: options.path,
    rawQueryString: '',
    cookies: [],
    headers: {
      accept: '*/*',
      'content-length': String(options.body?.length ?? 0),
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'vitest',
      'x-amzn-trace-id': 'Root=1-65f0c0de-0123456789abcdef01234567',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...options.headers,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method: options.method,
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'vitest',
      },
      requestId: 'Jq1XlgDvDoEEMmA=',
      routeKey: options.routeKey,
      stage: '$default',
      time: '26/Nov/2026:02:31:24 +0000',
      timeEpoch: 1_795_660_284_000,
    },
    pathParameters: options.pathParameters,
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
  } as unknown as LambdaEvent;
}

async function bearer(userId: string, name?: string): Promise<string> {
  const token = await signToken(
    'access',
    { sub: userId, ...(name ? { name } : {}) },
    {
      key: new TextEncoder().encode(ACCESS_SECRET),
      alg: 'HS256',
      issuer: ACCESS_ISSUER,
      audience: ACCESS_AUDIENCE,
      expiresInSeconds: 600,
      nowMs: Date.now(),
    },
  );
  return `Bearer ${token}`;
}

describe('Lambda adapter (API Gateway HTTP API v2)', () => {
  it('creates, joins (path params, JSON and base64 bodies, Authorization) and reads a meeting', async () => {
    const handler = createLambdaHandler(env, { logger: silentLogger });

    const created = await handler(
      apiGatewayV2Event({
        method: 'POST',
        path: '/api/meetings',
        routeKey: 'POST /api/meetings',
        headers: { authorization: await bearer('wendy'), 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'From Lambda' }),
      }),
    );
    expect(created.statusCode).toBe(201);
    expect(created.headers?.['content-type']).toMatch(/application\/json/);
    const meeting = JSON.parse(created.body).data;
    expect(meeting).toMatchObject({ title: 'From Lambda', hostUserId: 'wendy', status: 'ACTIVE' });

    const joinBody = Buffer.from(JSON.stringify({ nickname: 'Wendy W' })).toString('base64');
    const joined = await handler(
      apiGatewayV2Event({
        method: 'POST',
        path: `/api/meetings/${meeting.meetingId}/join`,
        routeKey: 'POST /api/meetings/{meetingId}/join',
        pathParameters: { meetingId: meeting.meetingId },
        headers: { authorization: await bearer('wendy'), 'content-type': 'application/json' },
        body: joinBody,
        isBase64Encoded: true,
      }),
    );
    expect(joined.statusCode).toBe(200);
    expect(JSON.parse(joined.body).data).toMatchObject({ meetingId: meeting.meetingId, nickname: 'Wendy W' });

    const config = await handler(
      apiGatewayV2Event({
        method: 'GET',
        path: `/api/meetings/${meeting.meetingId}/media-config`,
        routeKey: 'GET /api/meetings/{meetingId}/media-config',
        pathParameters: { meetingId: meeting.meetingId },
        headers: { authorization: await bearer('wendy') },
      }),
    );
    expect(config.statusCode).toBe(200);
    expect(JSON.parse(config.body).data.iceServers[0].username).toMatch(/^\d+:wendy$/);
  });

  it('answers errors with the envelope and status from the registry', async () => {
    const handler = createLambdaHandler(env, { logger: silentLogger });
    const unauthorized = await handler(
      apiGatewayV2Event({
        method: 'GET',
        path: '/api/meetings/m-1',
        routeKey: 'GET /api/meetings/{meetingId}',
        pathParameters: { meetingId: 'm-1' },
      }),
    );
    expect(unauthorized.statusCode).toBe(401);
    expect(JSON.parse(unauthorized.body)).toMatchObject({ code: 40101, data: null });

    const missing = await handler(
      apiGatewayV2Event({
        method: 'GET',
        path: '/api/meetings/m-1',
        routeKey: 'GET /api/meetings/{meetingId}',
        pathParameters: { meetingId: 'm-1' },
        headers: { authorization: await bearer('xavier') },
      }),
    );
    expect(missing.statusCode).toBe(404);
    expect(JSON.parse(missing.body).code).toBe(40401);
  });

  it('has no dev token route unless DEV_MODE=1', async () => {
    const event = () =>
      apiGatewayV2Event({
        method: 'POST',
        path: '/api/dev/token',
        routeKey: 'POST /api/dev/token',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ nickname: 'Dev' }),
      });
    const production = await createLambdaHandler(env, { logger: silentLogger })(event());
    expect(production.statusCode).toBe(404);
    const dev = await createLambdaHandler({ ...env, DEV_MODE: '1' }, { logger: silentLogger })(event());
    expect(dev.statusCode).toBe(200);
    expect(JSON.parse(dev.body).data.accessToken).toMatch(/^eyJ/);
  });

  it('a cold start that cannot load secrets fails clearly and is retried on the next call', async () => {
    const { MEDIA_SIGNING_KEY: _omitted, ...rest } = env;
    const arnEnv = { ...rest, MEDIA_SIGNING_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:key' };
    let calls = 0;
    const handler = createLambdaHandler(arnEnv, {
      logger: silentLogger,
      fetchSecret: async () => {
        calls += 1;
        if (calls === 1) throw new Error('throttled');
        return env.MEDIA_SIGNING_KEY!;
      },
    });
    const event = apiGatewayV2Event({ method: 'GET', path: '/healthz', routeKey: 'GET /healthz' });
    await expect(handler(event)).rejects.toThrow('throttled');
    const second = await handler(event);
    expect(second.statusCode).toBe(200);
    expect(calls).toBe(2);

    const outsideLambda = createLambdaHandler(arnEnv, { logger: silentLogger });
    await expect(outsideLambda(event)).rejects.toThrow(/TODO\(secrets-manager\)/);
  });

  it('reads *_SECRET_ARN values through the Parameters and Secrets extension at cold start', async () => {
    const secretsByArn: Record<string, string> = {
      'arn:aws:secretsmanager:eu-west-1:1:secret:signing': env.MEDIA_SIGNING_KEY!,
      'arn:aws:secretsmanager:eu-west-1:1:secret:turn': 'turn-from-extension',
    };
    const seen: { arn: string | null; token: string | undefined }[] = [];
    const extension = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const arn = url.searchParams.get('secretId');
      const token = req.headers['x-aws-parameters-secrets-token'] as string | undefined;
      seen.push({ arn, token });
      const value = arn ? secretsByArn[arn] : undefined;
      if (url.pathname !== '/secretsmanager/get' || token !== 'session-token' || !value) {
        res.writeHead(token === 'session-token' ? 404 : 401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ARN: arn, Name: 'x', SecretString: value, VersionId: 'v1' }));
    });
    await new Promise<void>((resolve) => extension.listen(0, resolve));
    try {
      const { MEDIA_SIGNING_KEY: _key, TURN_SECRET: _turn, ...rest } = env;
      const handler = createLambdaHandler(
        {
          ...rest,
          MEDIA_SIGNING_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:signing',
          TURN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:turn',
          AWS_SESSION_TOKEN: 'session-token',
          PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String((extension.address() as AddressInfo).port),
        },
        { logger: silentLogger },
      );
      const created = await handler(
        apiGatewayV2Event({
          method: 'POST',
          path: '/api/meetings',
          routeKey: 'POST /api/meetings',
          headers: { authorization: await bearer('yara') },
          body: '{}',
        }),
      );
      expect(created.statusCode).toBe(201);
      const meetingId = JSON.parse(created.body).data.meetingId;
      const auth = { authorization: await bearer('yara') };
      await handler(
        apiGatewayV2Event({
          method: 'POST',
          path: `/api/meetings/${meetingId}/join`,
          routeKey: 'POST /api/meetings/{meetingId}/join',
          pathParameters: { meetingId },
          headers: auth,
        }),
      );
      const config = await handler(
        apiGatewayV2Event({
          method: 'GET',
          path: `/api/meetings/${meetingId}/media-config`,
          routeKey: 'GET /api/meetings/{meetingId}/media-config',
          pathParameters: { meetingId },
          headers: auth,
        }),
      );
      const turn = JSON.parse(config.body).data.iceServers[0];
      expect(turn.credential).toBe(createHmac('sha1', 'turn-from-extension').update(turn.username).digest('base64'));
      // fetched once, at cold start, with the session token
      expect(seen.map((entry) => entry.arn).sort()).toEqual(Object.keys(secretsByArn).sort());
      expect(seen.every((entry) => entry.token === 'session-token')).toBe(true);
    } finally {
      await new Promise<void>((resolve) => extension.close(() => resolve()));
    }
  });
});

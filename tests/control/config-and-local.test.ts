// Configuration parsing, and the local entry point over real HTTP with the
// demo page served from STATIC_DIR.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadControlConfig } from '../../control/config.js';
import { startLocalControlPlane } from '../../control/local.js';
import { silentLogger } from '../../shared/logger.js';
import { createTestTables } from '../support/dynamo.js';
import { ACCESS_SECRET, generateMediaKeys } from './helpers.js';

const minimal = {
  TABLE_MEETINGS: 'meetings',
  TABLE_HOSTS: 'hosts',
  ACCESS_TOKEN_HS256_SECRET: ACCESS_SECRET,
  MEDIA_SIGNING_KEY: 'pem',
  TURN_SECRET: 'turn',
};

describe('loadControlConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadControlConfig(minimal);
    expect(config).toMatchObject({
      port: 8080,
      devMode: false,
      turnTtlSeconds: 3600,
      controlIssuer: 'rtc-control-plane',
      hostStaleAfterMs: 15_000,
      accessToken: { source: { kind: 'hs256' }, issuer: 'rtc-dev-auth', audience: 'rtc-api' },
      tables: { meetings: 'meetings', hosts: 'hosts' },
      turnUrls: [],
      webOrigins: [],
    });
  });

  it('parses lists, JWKS, dev mode and escaped PEM newlines', () => {
    const config = loadControlConfig({
      ...minimal,
      ACCESS_TOKEN_HS256_SECRET: undefined,
      ACCESS_TOKEN_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
      TURN_URLS: 'turn:t.example.com:3478?transport=udp, turns:t.example.com:443?transport=tcp',
      STUN_URLS: 'stun:t.example.com:3478',
      WEB_ORIGINS: 'https://app.example.com,http://localhost:5173',
      MEDIA_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----',
      TURN_TTL_SECONDS: '600',
    });
    expect(config.accessToken.source).toEqual({ kind: 'jwks', url: 'https://auth.example.com/.well-known/jwks.json' });
    expect(config.turnUrls).toEqual(['turn:t.example.com:3478?transport=udp', 'turns:t.example.com:443?transport=tcp']);
    expect(config.webOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.mediaSigningKeyPem).toContain('\nabc\n');
    expect(config.turnTtlSeconds).toBe(600);
    expect(loadControlConfig({ ...minimal, DEV_MODE: '1' }).devMode).toBe(true);
    expect(config.secretsExtension).toBeUndefined();
    expect(loadControlConfig({ ...minimal, AWS_SESSION_TOKEN: 'tok' }).secretsExtension).toEqual({
      port: 2773,
      sessionToken: 'tok',
    });
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadControlConfig({
        TURN_URLS: 'http://nope',
        TURN_TTL_SECONDS: '10',
        DEV_MODE: '1',
        ACCESS_TOKEN_JWKS_URL: 'x',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const expected of [
      'TABLE_MEETINGS',
      'TABLE_HOSTS',
      'ACCESS_TOKEN_JWKS_URL must be',
      'DEV_MODE=1 needs',
      'MEDIA_SIGNING_KEY',
      'TURN_SECRET',
      'TURN_URLS entry',
      'TURN_TTL_SECONDS',
    ]) {
      expect(problems).toContain(expected);
    }
  });
});

describe('local entry point', () => {
  it('serves the API and the demo page (index.html at / and /m/*)', async () => {
    const tables = await createTestTables();
    const staticDir = mkdtempSync(path.join(os.tmpdir(), 'demo-'));
    writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>demo</title>');
    writeFileSync(path.join(staticDir, 'app.js'), 'console.log(1)');
    const local = await startLocalControlPlane(
      {
        PORT: '0',
        AWS_REGION: tables.region,
        DYNAMODB_ENDPOINT: tables.endpoint,
        TABLE_MEETINGS: tables.names.meetings,
        TABLE_HOSTS: tables.names.hosts,
        DEV_MODE: '1',
        ACCESS_TOKEN_HS256_SECRET: ACCESS_SECRET,
        MEDIA_SIGNING_KEY: generateMediaKeys().privateKeyPem,
        TURN_SECRET: 'turn',
        STATIC_DIR: staticDir,
      },
      { logger: silentLogger },
    );
    try {
      expect(local.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${local.url}/healthz`);
      expect(await health.json()).toMatchObject({ code: 0 });
      for (const page of ['/', '/m/some-meeting-id']) {
        const res = await fetch(`${local.url}${page}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/text\/html/);
        expect(await res.text()).toContain('<title>demo</title>');
      }
      expect(await (await fetch(`${local.url}/app.js`)).text()).toBe('console.log(1)');
      const token = await fetch(`${local.url}/api/dev/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ nickname: 'Zoe' }),
      });
      expect(token.status).toBe(200);
      const unknownApi = await fetch(`${local.url}/api/unknown`);
      expect(unknownApi.status).toBe(404);
      expect((await unknownApi.json()).code).toBe(40405);
    } finally {
      await local.close();
    }
  });
});

// Access-token verification at the API edge (HS256 and JWKS), and the
// media-join token the control plane signs for media hosts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenVerifier } from '../../control/auth.js';
import type { MediaSession } from '../../shared/protocol/http.js';
import { signToken, verifyToken } from '../../shared/tokens.js';
import {
  ACCESS_AUDIENCE,
  ACCESS_ISSUER,
  ACCESS_SECRET,
  CONTROL_ISSUER,
  type ControlHarness,
  createHarness,
  generateMediaKeys,
  meetingWith,
} from './helpers.js';

let h: ControlHarness;
let meetingId: string;

beforeAll(async () => {
  h = await createHarness();
  meetingId = await meetingWith(h, 'olga');
});
afterAll(() => h.close());

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function getMeetingWith(token: string) {
  return h.call('GET', `/api/meetings/${meetingId}`, { token });
}

function accessBody(nowMs: number) {
  return {
    sub: 'olga',
    iss: ACCESS_ISSUER,
    aud: ACCESS_AUDIENCE,
    iat: Math.floor(nowMs / 1000),
    exp: Math.floor(nowMs / 1000) + 600,
  };
}

describe('access tokens (HS256)', () => {
  it('a valid token is accepted (the control for the refusals below)', async () => {
    const res = await getMeetingWith(await h.accessToken('olga'));
    expect(res.status).toBe(200);
  });

  it('refuses an expired token', async () => {
    const token = await h.accessToken('olga');
    h.clock.advance(3600_000 + 10_000);
    try {
      const res = await getMeetingWith(token);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 40101, message: 'Token has expired' });
    } finally {
      h.clock.advance(-(3600_000 + 10_000));
    }
  });

  it('refuses a token signed with another secret', async () => {
    const forged = await signToken(
      'access',
      { sub: 'olga' },
      {
        key: new TextEncoder().encode('another-secret-0123456789abcdef0123456'),
        alg: 'HS256',
        issuer: ACCESS_ISSUER,
        audience: ACCESS_AUDIENCE,
        expiresInSeconds: 600,
        nowMs: h.clock.now(),
      },
    );
    const res = await getMeetingWith(forged);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 40101, message: 'Token signature is invalid' });
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = (await h.accessToken('olga')).split('.');
    const tampered = `${header}.${base64url({ ...accessBody(h.clock.now()), sub: 'host-of-everything' })}.${signature}`;
    expect((await getMeetingWith(tampered)).status).toBe(401);
  });

  it('refuses alg:none', async () => {
    const unsigned = `${base64url({ alg: 'none', typ: 'at+jwt' })}.${base64url(accessBody(h.clock.now()))}.`;
    const res = await getMeetingWith(unsigned);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(40101);
  });

  it('refuses other kinds of token signed with the same key (media-join, service)', async () => {
    const key = new TextEncoder().encode(ACCESS_SECRET);
    const common = {
      key,
      alg: 'HS256' as const,
      issuer: ACCESS_ISSUER,
      audience: ACCESS_AUDIENCE,
      nowMs: h.clock.now(),
    };
    const mediaJoin = await signToken(
      'media-join',
      { sub: 'olga', nickname: 'O', meetingId, jti: 'jti-12345678' },
      { ...common, expiresInSeconds: 60 },
    );
    const service = await signToken(
      'service',
      { sub: 'control-plane', scope: 'meetings:end', jti: 'jti-12345678' },
      { ...common, expiresInSeconds: 30 },
    );
    for (const token of [mediaJoin, service]) {
      const res = await getMeetingWith(token);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 40101, message: 'Token claim "typ" is invalid' });
    }
  });

  it('refuses a real media-join token from media-session as an access token', async () => {
    await h.registerHost({ hostId: 'tok-host' });
    const session = await h.call<MediaSession>('POST', `/api/meetings/${meetingId}/media-session`, {
      token: await h.accessToken('olga'),
    });
    const joinToken = new URL(session.body.data!.signalingUrl).searchParams.get('token')!;
    const res = await getMeetingWith(joinToken);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(40101);
  });

  it('refuses a wrong issuer, a wrong audience and a missing exp', async () => {
    const key = new TextEncoder().encode(ACCESS_SECRET);
    const nowMs = h.clock.now();
    const sign = (issuer: string, audience: string) =>
      signToken('access', { sub: 'olga' }, { key, alg: 'HS256', issuer, audience, expiresInSeconds: 600, nowMs });
    expect((await getMeetingWith(await sign('someone-else', ACCESS_AUDIENCE))).status).toBe(401);
    expect((await getMeetingWith(await sign(ACCESS_ISSUER, 'other-api'))).status).toBe(401);
    const noExp = await new SignJWT({ sub: 'olga' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(ACCESS_ISSUER)
      .setAudience(ACCESS_AUDIENCE)
      .setIssuedAt(Math.floor(nowMs / 1000))
      .sign(key);
    expect((await getMeetingWith(noExp)).status).toBe(401);
  });
});

describe('access tokens (JWKS)', () => {
  let server: Server;
  let jwksUrl: string;
  let esKey: CryptoKey;
  let rsKey: CryptoKey;

  beforeAll(async () => {
    const es = await generateKeyPair('ES256');
    const rs = await generateKeyPair('RS256');
    esKey = es.privateKey;
    rsKey = rs.privateKey;
    const jwks = {
      keys: [
        { ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' },
        { ...(await exportJWK(rs.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' },
      ],
    };
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('accepts ES256 and RS256 tokens from the key set and refuses HS256, forged and unknown keys', async () => {
    const verifier = createAccessTokenVerifier({
      key: { kind: 'jwks', url: jwksUrl },
      issuer: ACCESS_ISSUER,
      audience: ACCESS_AUDIENCE,
      clock: h.clock,
    });
    const nowMs = h.clock.now();
    const opts = { issuer: ACCESS_ISSUER, audience: ACCESS_AUDIENCE, expiresInSeconds: 600, nowMs };
    const es = await signToken(
      'access',
      { sub: 'u-es', name: 'Es' },
      { ...opts, key: esKey, alg: 'ES256', kid: 'es-1' },
    );
    const rs = await signToken('access', { sub: 'u-rs' }, { ...opts, key: rsKey, alg: 'RS256', kid: 'rs-1' });
    expect(await verifier.verify(es)).toMatchObject({ sub: 'u-es', name: 'Es' });
    expect(await verifier.verify(rs)).toMatchObject({ sub: 'u-rs' });

    const hs = await signToken(
      'access',
      { sub: 'u' },
      { ...opts, key: new TextEncoder().encode(ACCESS_SECRET), alg: 'HS256' },
    );
    await expect(verifier.verify(hs)).rejects.toMatchObject({ code: 40101 });
    const stranger = (await generateKeyPair('ES256')).privateKey;
    const forged = await signToken('access', { sub: 'u' }, { ...opts, key: stranger, alg: 'ES256', kid: 'es-1' });
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 40101, message: 'Token signature is invalid' });
    const unknownKid = await signToken('access', { sub: 'u' }, { ...opts, key: stranger, alg: 'ES256', kid: 'nope' });
    await expect(verifier.verify(unknownKid)).rejects.toMatchObject({ code: 40101 });
  });
});

describe('media-join token', () => {
  it('is ES256, typ media-join+jwt, aud = host, <= 60 s, bound to meeting, user and nickname', async () => {
    await h.registerHost({ hostId: 'jwt-host' });
    const other = await meetingWith(h, 'pia');
    const session = await h.call<MediaSession>('POST', `/api/meetings/${other}/media-session`, {
      token: await h.accessToken('pia'),
    });
    expect(session.status).toBe(200);
    const hostId = session.body.data!.hostId;
    const token = new URL(session.body.data!.signalingUrl).searchParams.get('token')!;
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'media-join+jwt' });

    const nowMs = h.clock.now();
    const verifyAs = (audience: string, key = h.mediaKeys.publicKey) =>
      verifyToken('media-join', token, {
        key,
        algorithms: ['ES256'],
        issuer: CONTROL_ISSUER,
        audience,
        nowMs,
        maxLifetimeSeconds: 60,
      });
    const claims = await verifyAs(hostId);
    expect(claims).toMatchObject({
      sub: 'pia',
      nickname: 'nick-pia',
      meetingId: other,
      aud: hostId,
      iss: CONTROL_ISSUER,
    });
    expect(claims.exp - claims.iat!).toBeLessThanOrEqual(60);
    expect(claims.jti.length).toBeGreaterThanOrEqual(8);

    await expect(verifyAs('some-other-host')).rejects.toMatchObject({ code: 40101 });
    await expect(verifyAs(hostId, generateMediaKeys().publicKey)).rejects.toMatchObject({ code: 40101 });
    await expect(
      verifyToken('media-join', token, {
        key: h.mediaKeys.publicKey,
        algorithms: ['ES256'],
        issuer: CONTROL_ISSUER,
        audience: hostId,
        nowMs: nowMs + 70_000,
      }),
    ).rejects.toMatchObject({ code: 40101, message: 'Token has expired' });

    // every media-session mints a fresh one-time token
    const again = await h.call<MediaSession>('POST', `/api/meetings/${other}/media-session`, {
      token: await h.accessToken('pia'),
    });
    const second = new URL(again.body.data!.signalingUrl).searchParams.get('token')!;
    expect(second).not.toBe(token);
  });
});

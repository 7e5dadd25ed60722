// The remote stage cache's transport (src/remote/) against a real distribution registry on
// 127.0.0.1 (test/helpers/registry.ts): anonymous, htpasswd Basic, and token auth with a JWT
// token server. Faults the registry cannot be made to show (wrong bytes, 500, a stall, a port
// with nothing on it) come from small node:http servers. Nothing is mocked.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, ForgeError } from '../src/errors.ts';
import { credentialsFor, parseChallenges, type Credentials } from '../src/remote/auth.ts';
import { MEDIA_TYPES, OciClient, RemoteCacheError } from '../src/remote/oci.ts';
import { parseRemoteRef } from '../src/remote/ref.ts';
import { freePort, SERVICE, startRegistry, type TestRegistry } from './helpers/registry.ts';

const ARTIFACT = 'application/vnd.nginx-forge.stage.v1+json';
const LAYER = 'application/vnd.nginx-forge.stage.tree.v1.tar';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const EMPTY = Buffer.from('{}');

function stageManifest(layer: Buffer, stage = 'openssl/configure'): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: ARTIFACT,
      config: { mediaType: MEDIA_TYPES.ociEmpty, digest: sha(EMPTY), size: EMPTY.length },
      layers: [{ mediaType: LAYER, digest: sha(layer), size: layer.length }],
      annotations: { 'org.nginx-forge.stage': stage },
    }),
  );
}

/** A dispatcher that records every request it carries (method and path), under the client. */
function counting(): { dispatcher: Dispatcher; seen: string[]; close: () => Promise<void> } {
  const seen: string[] = [];
  const agent = new Agent({ keepAliveTimeout: 1000 });
  const dispatcher = agent.compose((dispatch) => (opts, handler) => {
    seen.push(`${opts.method} ${String(opts.path).replace(/\?.*$/, '')}`);
    return dispatch(opts, handler);
  });
  return { dispatcher, seen, close: () => agent.close() };
}

async function failure(p: Promise<unknown>): Promise<RemoteCacheError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'expected a RemoteCacheError').toBeInstanceOf(RemoteCacheError);
  return e as RemoteCacheError;
}

/** Whether a test in this file failed: the registries' logs are then kept. */
let failed = false;
afterEach(({ task }) => {
  if (task.result?.state === 'fail') failed = true;
});

const tmp = mkdtempSync(path.join(os.tmpdir(), 'nginx-forge-remote-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('oci:// addresses', () => {
  it('parse into the registry URL and the repository: https by default, http for loopback or insecure', () => {
    expect(parseRemoteRef('oci://ghcr.io/acme/nginx-forge-cache')).toEqual({ registry: 'https://ghcr.io', host: 'ghcr.io', repository: 'acme/nginx-forge-cache', plainHttp: false });
    expect(parseRemoteRef('oci://Registry.Example.com:5000/a/b.c/d_e/f-g/')).toMatchObject({ registry: 'https://registry.example.com:5000', repository: 'a/b.c/d_e/f-g' });
    expect(parseRemoteRef('oci://127.0.0.1:5000/cache').registry).toBe('http://127.0.0.1:5000');
    expect(parseRemoteRef('oci://127.8.9.10/cache').registry).toBe('http://127.8.9.10');
    expect(parseRemoteRef('oci://localhost:5000/cache').registry).toBe('http://localhost:5000');
    expect(parseRemoteRef('oci://[::1]:5000/cache')).toMatchObject({ registry: 'http://[::1]:5000', host: '[::1]:5000' });
    expect(parseRemoteRef('oci://10.0.0.5:5000/cache').registry).toBe('https://10.0.0.5:5000');
    expect(parseRemoteRef('oci://128.0.0.1/cache').registry).toBe('https://128.0.0.1');
    expect(parseRemoteRef('oci://cache.lan:5000/cache', { insecure: true }).registry).toBe('http://cache.lan:5000');
  });

  it.each([
    ['https://ghcr.io/acme/cache', 'not an oci:// address'],
    ['oci://ghcr.io', 'no repository'],
    ['oci://ghcr.io/', 'no repository'],
    ['oci:///acme', 'no host'],
    ['oci://ghcr.io/Acme/cache', 'upper-case'],
    ['oci://ghcr.io/acme//cache', 'empty path component'],
    ['oci://ghcr.io/acme/-cache', 'not a valid name'],
    ['oci://ghcr.io/acme/ca..che', 'not a valid name'],
    ['oci://ghcr.io/acme/cache:latest', 'tag or digest'],
    ['oci://ghcr.io:0/acme', 'port "0"'],
    ['oci://ghcr.io:99999/acme', 'port "99999"'],
    ['oci://ghcr.io:http/acme', 'not a host'],
    ['oci://user@ghcr.io/acme', 'no user name'],
    ['oci://ghcr.io/acme?x=1', 'query'],
    ['oci://gh_cr.io/acme', 'not a host name'],
    ['oci://[::g]/acme', 'not an IPv6 address'],
    [`oci://ghcr.io/${'a'.repeat(250)}`, '255 characters'],
  ])('%s is refused, naming the flag and the value', (value, why) => {
    let e: unknown;
    try {
      parseRemoteRef(value, { flag: '--remote-cache' });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ForgeError);
    const fe = e as ForgeError;
    expect(fe.exitCode).toBe(ExitCode.usage);
    expect(fe.message).toContain(`--remote-cache ${JSON.stringify(value)}`);
    expect(fe.message).toContain(why);
    expect(fe.hint).toBeTruthy();
  });
});

describe('WWW-Authenticate', () => {
  it('parses quoted values with commas and escapes, and several challenges in one header', () => {
    expect(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
    expect(parseChallenges('Basic realm="say \\"hi\\", please", Bearer realm=https://t.example/x , error="insufficient_scope"')).toEqual([
      { scheme: 'basic', params: { realm: 'say "hi", please' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/x', error: 'insufficient_scope' } },
    ]);
    expect(parseChallenges(['Basic realm="r"', 'Bearer realm="t"']).map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('Bearer realm="unterminated, service=x')).toEqual([{ scheme: 'bearer', params: { realm: 'unterminated, service=x' } }]);
  });
});

describe('credentials', () => {
  const home = path.join(tmp, 'home');
  const dockerDir = path.join(tmp, 'docker-config');
  mkdirSync(path.join(home, '.docker'), { recursive: true });
  mkdirSync(dockerDir, { recursive: true });
  writeFileSync(
    path.join(dockerDir, 'config.json'),
    JSON.stringify({
      auths: {
        'registry.example:5000': { auth: Buffer.from('alice:s3cr:et').toString('base64') },
        'https://other.example/v1/': { username: 'bob', password: 'pw' },
        'helper.example': {},
      },
      credHelpers: { 'helper.example': 'secretservice' },
    }),
  );
  writeFileSync(path.join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'home.example': { auth: Buffer.from('carol:x').toString('base64') } } }));

  it('come from the environment first: user + password, user + token (a password), a token alone (a bearer token)', () => {
    const env = { NGINX_FORGE_CACHE_USER: 'u', NGINX_FORGE_CACHE_PASSWORD: 'p', NGINX_FORGE_CACHE_TOKEN: 't', DOCKER_CONFIG: dockerDir };
    expect(credentialsFor('registry.example:5000', { env })).toMatchObject({ username: 'u', password: 'p' });
    expect(credentialsFor('registry.example:5000', { env: { NGINX_FORGE_CACHE_USER: 'u', NGINX_FORGE_CACHE_TOKEN: 't' } })).toMatchObject({ username: 'u', password: 't' });
    const bearer = credentialsFor('x', { env: { NGINX_FORGE_CACHE_TOKEN: 't' } });
    expect(bearer).toMatchObject({ bearer: 't' });
    expect(bearer?.username).toBeUndefined();
  });

  it('then from $DOCKER_CONFIG/config.json or ~/.docker/config.json: auth (base64 user:password) or username/password', () => {
    expect(credentialsFor('registry.example:5000', { env: { DOCKER_CONFIG: dockerDir }, home })).toMatchObject({ username: 'alice', password: 's3cr:et' });
    expect(credentialsFor('other.example', { env: { DOCKER_CONFIG: dockerDir }, home })).toMatchObject({ username: 'bob', password: 'pw' });
    expect(credentialsFor('registry.example', { env: { DOCKER_CONFIG: dockerDir }, home })).toBeUndefined(); // another port is another registry
    expect(credentialsFor('helper.example', { env: { DOCKER_CONFIG: dockerDir }, home })).toBeUndefined(); // credential helpers are not run
    expect(credentialsFor('home.example', { env: {}, home })).toMatchObject({ username: 'carol', password: 'x' });
    expect(credentialsFor('home.example', { env: { DOCKER_CONFIG: dockerDir }, home })).toBeUndefined();
    expect(credentialsFor('home.example', { env: {}, home: path.join(tmp, 'nowhere') })).toBeUndefined();
  });
});

describe('against an anonymous registry', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ kind: 'anonymous' });
  });
  afterAll(() => reg?.stop({ keepLogs: failed }));
  const client = (extra: Partial<ConstructorParameters<typeof OciClient>[0]> = {}) => new OciClient({ ref: parseRemoteRef(`oci://${reg.host}/forge/stages`), credentials: null, ...extra });

  it('pushes blobs and a stage manifest, reads it back by tag and by digest, and the blob byte for byte; skopeo sees the same manifest', async () => {
    const c = client();
    const layer = Buffer.concat([Buffer.from('stage tree '), Buffer.alloc(300_000, 7)]);
    const layerFile = path.join(tmp, 'layer.tar');
    writeFileSync(layerFile, layer);
    expect(await c.pushBlob(sha(EMPTY), EMPTY)).toEqual({ uploaded: true, size: 2 });
    expect(await c.pushBlob(sha(layer), layerFile)).toEqual({ uploaded: true, size: layer.length });
    expect(await c.hasBlob(sha(layer))).toBe(true);
    const bytes = stageManifest(layer);
    const digest = await c.putManifest('stage-abc', bytes, MEDIA_TYPES.ociManifest);
    expect(digest).toBe(sha(bytes));
    expect(await c.manifestDigest('stage-abc')).toBe(digest);

    const byTag = await c.getManifest('stage-abc');
    expect(byTag).toEqual({ digest, mediaType: MEDIA_TYPES.ociManifest, bytes });
    const byDigest = await c.getManifest(digest);
    expect(byDigest.bytes.equals(bytes)).toBe(true);
    expect(JSON.parse(byDigest.bytes.toString()).artifactType).toBe(ARTIFACT);

    const dest = path.join(tmp, 'got', 'layer.tar');
    expect(await c.getBlob(sha(layer), dest, { size: layer.length })).toEqual({ size: layer.length });
    expect(readFileSync(dest).equals(layer)).toBe(true);
    expect(readdirSync(path.dirname(dest))).toEqual(['layer.tar']); // no temp file left

    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/forge/stages:stage-abc`], { encoding: 'buffer', timeout: 30_000 });
    expect(raw.equals(bytes)).toBe(true);
    await c.close();
  });

  it('does not upload a blob the repository has: HEAD only, no POST or PUT', async () => {
    const rec = counting();
    const c = client({ dispatcher: rec.dispatcher });
    const blob = Buffer.from(`present ${Date.now()}`);
    expect((await c.pushBlob(sha(blob), blob)).uploaded).toBe(true);
    const first = [...rec.seen];
    expect(first.map((s) => s.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);
    rec.seen.length = 0;
    expect(await c.pushBlob(sha(blob), blob)).toEqual({ uploaded: false, size: blob.length });
    expect(rec.seen).toEqual([`HEAD /v2/forge/stages/blobs/${sha(blob)}`]);
    await rec.close();
  });

  it('a tag that is not there is undefined; a blob that is not there is false, and getting it is "not found" with nothing written', async () => {
    const c = client();
    expect(await c.manifestDigest('no-such-tag')).toBeUndefined();
    expect(await c.hasBlob(sha('never pushed'))).toBe(false);
    const dest = path.join(tmp, 'missing', 'x');
    const e = await failure(c.getBlob(sha('never pushed'), dest));
    expect(e.reason).toBe('not found');
    expect(e.line('nginx/build')).toBe(`registry ${reg.host}/forge/stages: nginx/build: not found`);
    expect(existsSync(dest)).toBe(false);
    expect((await failure(c.getManifest('no-such-tag'))).notFound).toBe(true);
  });

  it('refuses a wrong digest: bytes that do not match before sending, a file the registry refuses, a manifest tag as a digest', async () => {
    const c = client();
    const rec = counting();
    const c2 = client({ dispatcher: rec.dispatcher });
    expect((await failure(c2.pushBlob(sha('other bytes'), Buffer.from('these bytes')))).reason).toBe('digest mismatch');
    expect(rec.seen).toEqual([]); // refused before anything was sent
    const file = path.join(tmp, 'liar.bin');
    writeFileSync(file, 'the file');
    expect((await failure(c.pushBlob(sha('not the file'), file))).reason).toBe('digest mismatch');
    expect(await c.hasBlob(sha('not the file'))).toBe(false);
    expect((await failure(c.getManifest('sha256:1234'))).reason).toBe('bad digest');
    expect((await failure(c.getBlob('sha256:../../etc', path.join(tmp, 'x')))).reason).toBe('bad digest');
    await rec.close();
  });

  it('follows a relative upload Location (through a proxy that rewrites it), keeping its query string', async () => {
    const locations: string[] = [];
    const proxy = http.createServer((req, res) => {
      const up = http.request({ host: '127.0.0.1', port: reg.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        const h = { ...r.headers };
        if (typeof h.location === 'string') {
          const u = new URL(h.location, reg.url);
          h.location = `${u.pathname}${u.search}`;
          locations.push(h.location);
        }
        res.writeHead(r.statusCode ?? 502, h);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as AddressInfo).port;
    const c = new OciClient({ ref: parseRemoteRef(`oci://127.0.0.1:${port}/forge/stages`), credentials: null });
    const blob = Buffer.from(`relative ${Date.now()}`);
    expect((await c.pushBlob(sha(blob), blob)).uploaded).toBe(true);
    expect(locations.some((l) => l.startsWith('/v2/forge/stages/blobs/uploads/') && l.includes('?_state='))).toBe(true);
    expect(await client().hasBlob(sha(blob))).toBe(true);
    await c.close();
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  });
});

describe('auth', () => {
  const blob = Buffer.from('auth test blob');

  describe('htpasswd Basic', () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ kind: 'basic', user: 'forge', password: 'right-pw' });
    });
    afterAll(() => reg?.stop({ keepLogs: failed }));
    const client = (credentials: Credentials | null) => new OciClient({ ref: parseRemoteRef(`oci://${reg.host}/forge/basic`), credentials });

    it('right credentials push and pull', async () => {
      const c = client({ username: 'forge', password: 'right-pw', source: 'test' });
      expect((await c.pushBlob(sha(blob), blob)).uploaded).toBe(true);
      const dest = path.join(tmp, 'basic.bin');
      await c.getBlob(sha(blob), dest);
      expect(readFileSync(dest).equals(blob)).toBe(true);
    });

    it('wrong or no credentials are "unauthorized"', async () => {
      const wrong = await failure(client({ username: 'forge', password: 'wrong', source: 'NGINX_FORGE_CACHE_USER/NGINX_FORGE_CACHE_PASSWORD' }).hasBlob(sha(blob)));
      expect(wrong.reason).toBe('unauthorized');
      expect(wrong.message).toContain('NGINX_FORGE_CACHE_USER/NGINX_FORGE_CACHE_PASSWORD');
      expect(wrong.hint).toContain('NGINX_FORGE_CACHE_USER');
      expect((await failure(client(null).manifestDigest('x'))).reason).toBe('unauthorized');
    });

    it('credentials come from a DOCKER_CONFIG config.json', async () => {
      const dir = path.join(tmp, 'docker-basic');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('forge:right-pw').toString('base64') } } }));
      const creds = credentialsFor(reg.host, { env: { DOCKER_CONFIG: dir } });
      expect(creds?.username).toBe('forge');
      expect(await client(creds!).hasBlob(sha(blob))).toBe(true);
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${reg.host}`]: { username: 'forge', password: 'nope' } } }));
      expect((await failure(client(credentialsFor(reg.host, { env: { DOCKER_CONFIG: dir } })!).hasBlob(sha(blob)))).reason).toBe('unauthorized');
    });
  });

  describe('token (Bearer, JWT)', () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ kind: 'token', user: 'forge', password: 'right-pw' });
    });
    afterAll(() => reg?.stop({ keepLogs: failed }));
    const client = (credentials: Credentials | null) => new OciClient({ ref: parseRemoteRef(`oci://${reg.host}/forge/token`), credentials });

    it('right credentials: a push-scoped token from the realm, kept for the requests after it', async () => {
      reg.tokenRequests.length = 0;
      const c = client({ username: 'forge', password: 'right-pw', source: 'test' });
      const layer = Buffer.from('token layer');
      await c.pushBlob(sha(EMPTY), EMPTY);
      await c.pushBlob(sha(layer), layer);
      const digest = await c.putManifest('t1', stageManifest(layer), MEDIA_TYPES.ociManifest);
      expect(await c.manifestDigest('t1')).toBe(digest);
      const dest = path.join(tmp, 'token.bin');
      await c.getBlob(sha(layer), dest);
      expect(readFileSync(dest).equals(layer)).toBe(true);
      // one token for pull,push; the pulls after it use it too
      expect(reg.tokenRequests).toHaveLength(1);
      expect(reg.tokenRequests[0]).toMatchObject({ service: SERVICE, scopes: ['repository:forge/token:pull,push'], status: 200 });
      expect(reg.tokenRequests[0]!.authorization).toBe(`Basic ${Buffer.from('forge:right-pw').toString('base64')}`);
      // a pull-only client asks for pull scope
      reg.tokenRequests.length = 0;
      expect(await client({ username: 'forge', password: 'right-pw', source: 'test' }).manifestDigest('t1')).toBe(digest);
      expect(reg.tokenRequests.map((r) => r.scopes)).toEqual([['repository:forge/token:pull']]);
    });

    it('wrong credentials: the token server refuses them, "unauthorized"', async () => {
      reg.tokenRequests.length = 0;
      const e = await failure(client({ username: 'forge', password: 'wrong', source: 'test creds' }).manifestDigest('t1'));
      expect(e.reason).toBe('unauthorized');
      expect(e.message).toContain('test creds');
      expect(reg.tokenRequests.map((r) => r.status)).toEqual([401]);
    });

    it('no credentials: an anonymous token without access is refused by the registry, "unauthorized"', async () => {
      const e = await failure(client(null).hasBlob(sha(EMPTY)));
      expect(e.reason).toBe('unauthorized');
    });

    it('a bearer token given as it is (NGINX_FORGE_CACHE_TOKEN alone) goes to the registry without the token server', async () => {
      reg.tokenRequests.length = 0;
      const token = reg.issueToken(['repository:forge/token:pull']);
      const creds = credentialsFor(reg.host, { env: { NGINX_FORGE_CACHE_TOKEN: token } })!;
      expect(await client(creds).hasBlob(sha(EMPTY))).toBe(true);
      expect(reg.tokenRequests).toHaveLength(0);
      // the same token cannot push
      expect((await failure(client(creds).pushBlob(sha('new'), Buffer.from('new')))).reason).toBe('unauthorized');
      expect(reg.tokenRequests).toHaveLength(0);
    });
  });
});

describe('token lifetime', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ kind: 'token', user: 'forge', password: 'pw', expiresIn: 2 });
  });
  afterAll(() => reg?.stop({ keepLogs: failed }));

  it('a token is kept until its expires_in has passed, then a new one is asked for', async () => {
    const c = new OciClient({ ref: parseRemoteRef(`oci://${reg.host}/forge/ttl`), credentials: { username: 'forge', password: 'pw', source: 'test' } });
    expect(await c.manifestDigest('a')).toBeUndefined();
    expect(await c.manifestDigest('b')).toBeUndefined();
    expect(reg.tokenRequests).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await c.manifestDigest('c')).toBeUndefined();
    expect(reg.tokenRequests).toHaveLength(2);
    expect(reg.tokenRequests.every((r) => r.status === 200)).toBe(true);
  });
});

describe('faults', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
  async function serve(handler: http.RequestListener): Promise<string> {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
  const client = (host: string, extra: Partial<ConstructorParameters<typeof OciClient>[0]> = {}) => new OciClient({ ref: parseRemoteRef(`oci://${host}/forge/faults`), credentials: null, ...extra });

  it('a registry that is down is "unreachable"', async () => {
    const port = await freePort(); // nothing listens there
    const e = await failure(client(`127.0.0.1:${port}`).manifestDigest('x'));
    expect(e.reason).toBe('unreachable');
    expect(e.line('openssl/build')).toBe(`registry 127.0.0.1:${port}/forge/faults: openssl/build: unreachable`);
  });

  it('a 500 is "http 500", for manifests, blobs and uploads', async () => {
    const host = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'storage on fire' }] }));
    });
    const c = client(host);
    const e = await failure(c.manifestDigest('x'));
    expect(e.reason).toBe('http 500');
    expect((await failure(c.getManifest('x'))).message).toContain('storage on fire');
    expect((await failure(c.getBlob(sha('x'), path.join(tmp, 'f500')))).reason).toBe('http 500');
    expect((await failure(c.pushBlob(sha('x'), Buffer.from('x')))).reason).toBe('http 500');
    expect(existsSync(path.join(tmp, 'f500'))).toBe(false);
  });

  it('a registry that stalls is "timeout" (headers, or in the middle of a blob)', async () => {
    const host = await serve((req, res) => {
      if (req.url?.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': '1000', 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(10));
        return; // and nothing more
      }
      // no answer at all
    });
    const c = client(host, { timeoutMs: 300 });
    const t0 = Date.now();
    expect((await failure(c.manifestDigest('x'))).reason).toBe('timeout');
    const dest = path.join(tmp, 'stalled', 'blob');
    expect((await failure(c.getBlob(sha('x'), dest))).reason).toBe('timeout');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(path.dirname(dest)) ? readdirSync(path.dirname(dest)) : []).toEqual([]);
    // the whole-request deadline holds for a server that trickles bytes below the inactivity timeout
    const drip = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), 50);
    });
    expect((await failure(client(drip, { timeoutMs: 5000, blobDeadlineMs: 600 }).getBlob(sha('x'), path.join(tmp, 'drip')))).reason).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("the caller's own abort (Ctrl-C) is passed on as it is, not turned into a warning", async () => {
    const host = await serve(() => undefined); // never answers
    const ac = new AbortController();
    const c = client(host, { signal: ac.signal });
    const p = c.manifestDigest('x');
    setTimeout(() => ac.abort(new Error('interrupted by the user')), 100);
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).not.toBeInstanceOf(RemoteCacheError);
    expect(ac.signal.aborted).toBe(true);
  });

  it('refuses bytes that are not the digest (blob and manifest) and a blob larger than its size, leaving nothing behind', async () => {
    const wrong = Buffer.from('not what was asked for');
    const host = await serve((req, res) => {
      if (req.url?.includes('/manifests/')) {
        res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': sha('something else') });
        res.end(wrong);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(wrong);
    });
    const c = client(host);
    const dest = path.join(tmp, 'wrong', 'blob');
    mkdirSync(path.dirname(dest), { recursive: true });
    expect((await failure(c.getBlob(sha('right'), dest))).reason).toBe('digest mismatch');
    expect((await failure(c.getBlob(sha(wrong), dest, { size: 5 }))).reason).toBe('too large');
    expect(readdirSync(path.dirname(dest))).toEqual([]);
    expect((await failure(c.getManifest('tag'))).reason).toBe('digest mismatch');
    expect((await failure(c.getManifest(sha('right')))).reason).toBe('digest mismatch');
    expect((await failure(client(host, { maxManifestBytes: 5 }).getManifest(sha(wrong)))).reason).toBe('too large');
  });
});

// A real OCI registry for tests: the distribution registry (Debian's docker-registry, 2.8) on
// 127.0.0.1 with a free port, its storage in a temp dir (filesystem driver, delete enabled).
// Auth modes:
//   anonymous  no auth section
//   basic      auth.htpasswd with a bcrypt file made by `htpasswd -Bbn user pass`
//   token      auth.token: realm = a token server this fixture serves with node:http; it
//              answers Basic credentials with a JWT (RS256, signed with a key and self-signed
//              certificate made by `openssl req -x509`; the certificate is the registry's
//              rootcertbundle and goes in the JWT's x5c header), with iss/aud/exp/nbf and the
//              `access` claim the registry checks. Wrong credentials: 401. None: a token with no
//              access (or 401 with `anonymous: 'refuse'`).
// The process itself is src/remote/local-registry.ts's (bench build starts it too).
// The registry's log is kept in its dir; stop() kills the process and removes the dir, unless
// told to keep the log (a test failed) or the registry died on its own: then it says where it is.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startLocalRegistry, type LocalRegistry } from '../../src/remote/local-registry.ts';

export { freePort } from '../../src/remote/local-registry.ts';

export type RegistryMode =
  | { kind: 'anonymous' }
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'token'; user: string; password: string; expiresIn?: number; anonymous?: 'empty' | 'refuse' };

export interface TokenRequest {
  service?: string;
  scopes: string[];
  authorization?: string;
  status: number;
}

export interface TestRegistry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  dir: string;
  log: string;
  /** token mode: every request the token server got */
  tokenRequests: TokenRequest[];
  /** token mode: a token for these scopes, as the token server would issue it */
  issueToken(scopes: string[]): string;
  logText(): string;
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

export const SERVICE = 'nginx-forge-test-registry';
export const ISSUER = 'nginx-forge-test-token-issuer';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

interface TokenServer {
  url: string;
  requests: TokenRequest[];
  issue(scopes: string[], sub: string): string;
  close(): Promise<void>;
}

async function startTokenServer(dir: string, mode: Extract<RegistryMode, { kind: 'token' }>): Promise<TokenServer & { certFile: string }> {
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${ISSUER}`], { stdio: 'pipe' });
  const key = createPrivateKey(readFileSync(keyFile));
  const x5c = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
  const requests: TokenRequest[] = [];

  const issue = (scopes: string[], sub: string) => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.flatMap((s) => {
      // repository:NAME:ACTIONS (the name has no colon; a port would only be in a host part)
      const m = /^(repository):([^:]+):(.+)$/.exec(s);
      if (!m) return [];
      const actions = m[3]!.split(',').filter((a) => a === 'pull' || a === 'push');
      return [{ type: m[1], name: m[2], actions }];
    });
    const header = { typ: 'JWT', alg: 'RS256', x5c: [x5c] };
    const claims = { iss: ISSUER, sub, aud: SERVICE, exp: now + (mode.expiresIn ?? 300), nbf: now - 30, iat: now, jti: randomBytes(12).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const authorization = req.headers.authorization;
    const record = (status: number) => requests.push({ service: u.searchParams.get('service') ?? undefined, scopes, authorization, status });
    const deny = () => {
      record(401);
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'wrong user name or password' }] }));
    };
    if (u.pathname !== '/token') {
      res.writeHead(404);
      res.end();
      return;
    }
    let granted = scopes;
    let sub = '';
    if (authorization) {
      const m = /^Basic (.+)$/.exec(authorization);
      const plain = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
      if (plain !== `${mode.user}:${mode.password}`) return deny();
      sub = mode.user;
    } else if (mode.anonymous === 'refuse') {
      return deny();
    } else {
      granted = [];
    }
    record(200);
    const token = issue(granted, sub);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: mode.expiresIn ?? 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    issue,
    certFile,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function startRegistry(mode: RegistryMode = { kind: 'anonymous' }): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nginx-forge-registry-'));
  let token: (TokenServer & { certFile: string }) | undefined;
  let auth = '';
  if (mode.kind === 'basic') {
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, execFileSync('htpasswd', ['-Bbn', mode.user, mode.password], { encoding: 'utf8' }));
    auth = ['auth:', '  htpasswd:', '    realm: nginx-forge-test', `    path: ${file}`].join('\n');
  } else if (mode.kind === 'token') {
    token = await startTokenServer(dir, mode);
    auth = ['auth:', '  token:', `    realm: ${token.url}`, `    service: ${SERVICE}`, `    issuer: ${ISSUER}`, `    rootcertbundle: ${token.certFile}`].join('\n');
  }

  let reg: LocalRegistry;
  try {
    reg = await startLocalRegistry(dir, auth);
  } catch (e) {
    await token?.close();
    throw e;
  }
  const { port } = reg;
  return {
    url: reg.url,
    host: reg.host,
    port,
    dir,
    log: reg.log,
    tokenRequests: token?.requests ?? [],
    issueToken: (scopes) => {
      if (!token) throw new Error('issueToken: the registry is not in token mode');
      return token.issue(scopes, mode.kind === 'token' ? mode.user : '');
    },
    logText: reg.logText,
    stop: async (opts = {}) => {
      const died = reg.exited();
      await reg.stop();
      await token?.close();
      if (opts.keepLogs || died) {
        console.error(`docker-registry${died ? ` ${died} during the test` : ''}: its log is kept in ${reg.log}`);
        return;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

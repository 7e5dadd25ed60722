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
// The registry's log is kept in its dir; stop() kills the process and removes the dir, unless
// told to keep the log (a test failed) or the registry died on its own: then it says where it is.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

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

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

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

function configYaml(o: { port: number; data: string; auth: string }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${o.data}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${o.port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    o.auth,
    '',
  ].join('\n');
}

async function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

let setpriv: boolean | undefined;
function hasSetpriv(): boolean {
  if (setpriv === undefined) {
    try {
      execFileSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
      setpriv = true;
    } catch {
      setpriv = false;
    }
  }
  return setpriv;
}

export async function startRegistry(mode: RegistryMode = { kind: 'anonymous' }): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nginx-forge-registry-'));
  const data = path.join(dir, 'data');
  mkdirSync(data);
  const log = path.join(dir, 'registry.log');
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

  let child: ChildProcess | undefined;
  let port = 0;
  let exited: string | undefined;
  const logText = () => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '';
    }
  };
  // a free port can be taken between the look and the listen: a few tries
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const config = path.join(dir, 'config.yml');
    writeFileSync(config, configYaml({ port, data, auth }));
    const fd = openSync(log, 'a');
    // setpriv --pdeathsig (util-linux; it execs, so the pid is the registry's): the registry is
    // killed with the test process even when that is killed without running its exit handlers
    const argv = hasSetpriv() ? ['setpriv', '--pdeathsig', 'KILL', '--', 'docker-registry', 'serve', config] : ['docker-registry', 'serve', config];
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd], env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
    closeSync(fd);
    exited = undefined;
    c.on('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
    c.on('error', (e) => (exited = `did not start: ${e.message}`));
    const until = Date.now() + 20_000;
    let ready = false;
    while (Date.now() < until && !exited) {
      if (await answers(`http://127.0.0.1:${port}/v2/`)) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (ready && !exited) {
      child = c;
      break;
    }
    if (!exited) c.kill('SIGKILL');
  }
  if (!child) {
    await token?.close();
    throw new Error(`docker-registry ${exited ?? 'did not answer /v2/ within 20 s'}; log ${log}:\n${logText().split('\n').slice(-30).join('\n')}`);
  }
  const started = child;
  const killOnExit = () => started.kill('SIGKILL');
  process.once('exit', killOnExit);

  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    dir,
    log,
    tokenRequests: token?.requests ?? [],
    issueToken: (scopes) => {
      if (!token) throw new Error('issueToken: the registry is not in token mode');
      return token.issue(scopes, mode.kind === 'token' ? mode.user : '');
    },
    logText,
    stop: async (opts = {}) => {
      process.off('exit', killOnExit);
      const died = exited;
      if (!exited) {
        const gone = new Promise<void>((r) => started.once('exit', () => r()));
        started.kill('SIGTERM');
        const t = setTimeout(() => started.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(t);
      }
      await token?.close();
      if (opts.keepLogs || died) {
        console.error(`docker-registry${died ? ` ${died} during the test` : ''}: its log is kept in ${log}`);
        return;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

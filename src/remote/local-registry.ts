// A real OCI registry on loopback: the distribution registry (Debian's `docker-registry`, 2.8),
// on 127.0.0.1 with a free port, its storage in a directory of the caller's (filesystem driver,
// delete enabled). `bench build` starts one for its "fresh runner, warm registry" scenario; the
// tests' fixture (test/helpers/registry.ts) starts it with an auth section of its own (htpasswd,
// a token realm). Its log goes to <dir>/registry.log.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { ForgeError } from '../errors.ts';
import { which } from '../which.ts';

export interface LocalRegistry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  log: string;
  logText(): string;
  /** why the process ended on its own (undefined while it runs) */
  exited(): string | undefined;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it is gone */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
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

/**
 * Starts docker-registry with its storage in `<dir>/data` and `auth` (a YAML `auth:` section, or
 * empty for anonymous access) and waits until /v2/ answers.
 */
export async function startLocalRegistry(dir: string, auth = ''): Promise<LocalRegistry> {
  if (!which('docker-registry')) {
    throw new ForgeError('docker-registry not found: a local OCI registry needs the distribution registry', {
      hint: 'apt-get install docker-registry (ci/setup.sh installs it)',
    });
  }
  const data = path.join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const log = path.join(dir, 'registry.log');
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
    // killed with this process even when that is killed without running its exit handlers
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
    throw new ForgeError(`docker-registry ${exited ?? 'did not answer /v2/ within 20 s'}; log ${log}:\n${logText().split('\n').slice(-30).join('\n')}`);
  }
  const started = child;
  const killOnExit = () => started.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    log,
    logText,
    exited: () => exited,
    stop: async () => {
      process.off('exit', killOnExit);
      if (exited) return;
      const gone = new Promise<void>((r) => started.once('exit', () => r()));
      started.kill('SIGTERM');
      const t = setTimeout(() => started.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(t);
    },
  };
}

// Registry credentials and the challenge flow registry clients use.
//
// Credentials for a registry host, first found wins:
//   1. NGINX_FORGE_CACHE_USER + NGINX_FORGE_CACHE_PASSWORD: Basic credentials (sent on a Basic
//      challenge, and to the token server on a Bearer challenge)
//   2. NGINX_FORGE_CACHE_TOKEN: with NGINX_FORGE_CACHE_USER it is that user's password (a personal
//      access token, as most hosted registries take it); alone it is a registry bearer token
//      issued elsewhere (e.g. by a CI) and sent as `Authorization: Bearer` as it is
//   3. $DOCKER_CONFIG/config.json, else ~/.docker/config.json: `auths[host].auth` (base64 of
//      user:password) or `auths[host].username` + `password`. The keys may be written as
//      `host`, `https://host` or `https://host/v1/`.
// Credential helpers (`credsStore`, `credHelpers`) and `identitytoken` are not run or used: a
// host that only has those gets no credentials here (set the variables above instead).
//
// The flow: a request goes out anonymously; a 401 carries `WWW-Authenticate`:
//   Basic realm=…                              → the same request again with Basic credentials
//   Bearer realm="…",service="…",scope="…"     → GET realm?service=…&scope=… (with the Basic
//      credentials, if any), `token` or `access_token` from its JSON, kept per scope until
//      `expires_in` has passed, and the request again with `Authorization: Bearer <token>`.
// Once a registry has challenged, later requests carry the answer at once (no 401 round trip).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RemoteCacheError } from './errors.ts';

export interface Credentials {
  username?: string;
  password?: string;
  /** a registry bearer token used as it is */
  bearer?: string;
  /** where they came from, for messages (never the secret itself) */
  source: string;
}

export interface CredentialSources {
  env?: NodeJS.ProcessEnv;
  /** home directory for ~/.docker (default os.homedir()) */
  home?: string;
}

const hostOfKey = (k: string) =>
  k
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();

/** The credentials for a registry host (host[:port]), or undefined for anonymous access. */
export function credentialsFor(host: string, src: CredentialSources = {}): Credentials | undefined {
  const env = src.env ?? process.env;
  const user = env.NGINX_FORGE_CACHE_USER;
  const password = env.NGINX_FORGE_CACHE_PASSWORD;
  const token = env.NGINX_FORGE_CACHE_TOKEN;
  if (user && password) return { username: user, password, source: 'NGINX_FORGE_CACHE_USER/NGINX_FORGE_CACHE_PASSWORD' };
  if (token) {
    return user
      ? { username: user, password: token, source: 'NGINX_FORGE_CACHE_USER/NGINX_FORGE_CACHE_TOKEN' }
      : { bearer: token, source: 'NGINX_FORGE_CACHE_TOKEN' };
  }
  const dir = env.DOCKER_CONFIG || path.join(src.home ?? os.homedir(), '.docker');
  const file = path.join(dir, 'config.json');
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // no file, or not JSON: anonymous (a registry that wants credentials says so)
  }
  const want = host.toLowerCase();
  for (const [key, entry] of Object.entries(config?.auths ?? {})) {
    if (hostOfKey(key) !== want || !entry || typeof entry !== 'object') continue;
    if (typeof entry.auth === 'string' && entry.auth) {
      const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      if (colon > 0) return { username: plain.slice(0, colon), password: plain.slice(colon + 1), source: `${file} (auths."${key}".auth)` };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string' && entry.username) {
      return { username: entry.username, password: entry.password, source: `${file} (auths."${key}")` };
    }
  }
  return undefined;
}

export interface Challenge {
  /** lowercased: basic, bearer */
  scheme: string;
  /** parameter names lowercased */
  params: Record<string, string>;
}

/**
 * Parse WWW-Authenticate (RFC 7235): one or more challenges, `scheme name=value, name="quoted, with
 * \"escapes\""`, separated by commas. Tolerant: an unparseable rest is dropped, never thrown.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const out: Challenge[] = [];
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(text.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (text[i] === ',') {
      i++;
      continue;
    }
    const word = token();
    if (!word) {
      i++; // not a token character: skip it
      continue;
    }
    skipWs();
    if (text[i] === '=' && current) {
      // name=value (a token68 like `abc==` after a scheme is taken as a value-less name and ignored)
      i++;
      skipWs();
      let value = '';
      if (text[i] === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          value += text[i];
          i++;
        }
        i++; // closing quote
      } else {
        const m = /^[^,\s]*/.exec(text.slice(i))!;
        value = m[0];
        i += m[0].length;
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    if (text[i] === '=' && !current) {
      // a parameter before any scheme: skip to the next comma
      while (i < n && text[i] !== ',') i++;
      continue;
    }
    // a new scheme
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

export const scopeFor = (repository: string, push: boolean): string => `repository:${repository}:${push ? 'pull,push' : 'pull'}`;

/** What RegistryAuth needs to ask a token server: a GET with deadlines, returning status and body text. */
export type TokenGet = (url: string, headers: Record<string, string>) => Promise<{ status: number; text: string }>;

interface CachedToken {
  token: string;
  expires: number;
}

const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;

/** The answer to one registry's challenges; one per client (tokens are cached per scope). */
export class RegistryAuth {
  private challenge?: Challenge;
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly target: string,
    private readonly registryIsHttps: boolean,
    private readonly creds: Credentials | undefined,
    private readonly get: TokenGet,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header to send first, from an earlier challenge (undefined: go anonymously). */
  async header(scope: string): Promise<string | undefined> {
    if (!this.challenge) return this.creds?.bearer ? `Bearer ${this.creds.bearer}` : undefined;
    return this.answer(this.challenge, scope, false);
  }

  /**
   * A request got 401: the header to send it again with. Throws 'unauthorized' when there is
   * nothing left to try (no credentials, or the ones sent were refused).
   */
  async retryHeader(wwwAuthenticate: string | string[] | undefined, scope: string, sent: string | undefined): Promise<string> {
    const all = parseChallenges(wwwAuthenticate);
    const ch = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (!ch) {
      throw this.unauthorized(all.length ? `it asks for ${all.map((c) => c.scheme).join(', ')} authentication, which is not supported` : 'it answered 401 without a WWW-Authenticate challenge');
    }
    this.challenge = ch;
    if (ch.scheme === 'basic') {
      if (!this.creds || !this.creds.username) throw this.unauthorized(this.creds ? `it wants a user name and password; ${this.creds.source} has only a token` : 'it wants a user name and password and none is set');
      const h = basic(this.creds);
      if (sent === h) throw this.unauthorized(`it refused the user name and password from ${this.creds.source}`);
      return h;
    }
    // bearer: a token that was just refused is not tried again (the registry may want more scope)
    if (sent?.startsWith('Bearer ')) {
      const refused = sent.slice(7);
      for (const [k, v] of this.tokens) if (v.token === refused) this.tokens.delete(k);
      if (this.creds?.bearer && refused === this.creds.bearer) throw this.unauthorized(`it refused the token from ${this.creds.source}`);
    }
    return (await this.answer(ch, scope, true))!;
  }

  /** The request was refused again with the answer to its challenge. */
  refused(scope: string, sent: string | undefined): RemoteCacheError {
    if (!sent) return this.unauthorized('it refused an anonymous request');
    if (sent.startsWith('Basic ')) return this.unauthorized(`it refused the user name and password from ${this.creds?.source ?? '(none)'}`);
    return this.unauthorized(
      this.creds
        ? `its token for ${scope} was refused (credentials from ${this.creds.source})`
        : `the anonymous token for ${scope} was refused: it wants credentials`,
    );
  }

  private unauthorized(detail: string): RemoteCacheError {
    return new RemoteCacheError(this.target, 'unauthorized', detail, {
      hint: 'set NGINX_FORGE_CACHE_USER and NGINX_FORGE_CACHE_PASSWORD (or NGINX_FORGE_CACHE_TOKEN), or `docker login` to this registry',
    });
  }

  private async answer(ch: Challenge, scope: string, fresh: boolean): Promise<string | undefined> {
    if (ch.scheme === 'basic') return this.creds?.username ? basic(this.creds) : undefined;
    if (this.creds?.bearer) return `Bearer ${this.creds.bearer}`;
    const realm = ch.params.realm;
    if (!realm) throw new RemoteCacheError(this.target, 'bad response', 'its Bearer challenge names no realm (token server)');
    const key = `${realm}\n${ch.params.service ?? ''}\n${scope}`;
    if (!fresh) {
      const pushKey = `${realm}\n${ch.params.service ?? ''}\n${scope.replace(/:pull$/, ':pull,push')}`;
      for (const k of [key, pushKey]) {
        const t = this.tokens.get(k);
        if (t && t.expires > this.now()) return `Bearer ${t.token}`;
      }
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RemoteCacheError(this.target, 'bad response', `its token server "${realm}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RemoteCacheError(this.target, 'bad response', `its token server "${realm}" is not http(s)`);
    if (url.protocol === 'http:' && this.registryIsHttps && this.creds) {
      // credentials never go over plain http when the registry itself is spoken to over https
      throw new RemoteCacheError(this.target, 'unauthorized', `its token server ${realm} is plain http: credentials are not sent there`);
    }
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.creds?.username) headers.authorization = basic(this.creds);
    const asked = this.now();
    const res = await this.get(url.toString(), headers);
    if (res.status === 401 || res.status === 403) {
      throw this.unauthorized(this.creds ? `the token server refused the credentials from ${this.creds.source} (HTTP ${res.status})` : `the token server wants credentials (HTTP ${res.status}) and none are set`);
    }
    if (res.status !== 200) throw new RemoteCacheError(this.target, `http ${res.status}`, `from the token server ${url.origin}${url.pathname}`);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(res.text);
    } catch {
      throw new RemoteCacheError(this.target, 'bad response', `the token server ${url.origin}${url.pathname} did not answer JSON`);
    }
    const token = typeof body?.token === 'string' && body.token ? body.token : typeof body?.access_token === 'string' ? body.access_token : '';
    if (!token) throw new RemoteCacheError(this.target, 'bad response', `the token server ${url.origin}${url.pathname} sent no token`);
    // the spec's default lifetime is 60 s; a few seconds are kept in hand for the request itself
    const life = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    this.tokens.set(key, { token, expires: asked + Math.max(0, life * 1000 - Math.min(10_000, life * 100)) });
    return `Bearer ${token}`;
  }
}

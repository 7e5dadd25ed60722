// A remote stage cache address: `oci://HOST[:PORT]/REPO[/MORE]` (e.g. oci://ghcr.io/acme/nginx-forge-cache)
// → the registry's base URL and the repository in it. The registry is spoken to over https; plain
// http only for a loopback host (a registry on this machine) or when the caller says `insecure`.
// The repository name follows the distribution spec's grammar: lowercase path components
// `[a-z0-9]+([._-][a-z0-9]+)*` separated by `/` (the spec also allows `__` and runs of `-`
// as separators, accepted here too), at most 255 characters with the host.
import { isIP } from 'node:net';
import { ExitCode, ForgeError } from '../errors.ts';

export interface RemoteRef {
  /** scheme://host[:port], no trailing slash: where /v2/ is */
  registry: string;
  /** host[:port] as in the address (lowercased, IPv6 in brackets): for credentials and messages */
  host: string;
  /** the repository in the registry, e.g. acme/nginx-forge-cache */
  repository: string;
  /** true when the registry is spoken to over plain http */
  plainHttp: boolean;
}

export interface ParseRefOptions {
  /** the flag or setting the value came from, for messages (default --remote-cache) */
  flag?: string;
  /** allow plain http for a host that is not loopback */
  insecure?: boolean;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** localhost, 127.0.0.0/8, ::1 (host as in RemoteRef.host, without the port). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.split('.')[0] === '127';
  if (isIP(h) === 6) {
    // the URL parser writes an IPv6 address in its shortest form: [::1], [::ffff:7f00:1]
    const n = new URL(`http://[${h}]/`).hostname;
    return n === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(n);
  }
  return false;
}

/** Parse a remote cache address; a ForgeError (exit code usage) names the flag and the value when it is malformed. */
export function parseRemoteRef(value: string, opts: ParseRefOptions = {}): RemoteRef {
  const flag = opts.flag ?? '--remote-cache';
  const bad = (why: string, hint?: string): never => {
    throw new ForgeError(`${flag} ${JSON.stringify(value)}: ${why}`, {
      exitCode: ExitCode.usage,
      hint: hint ?? 'give it as oci://HOST[:PORT]/REPOSITORY, e.g. oci://ghcr.io/acme/nginx-forge-cache',
    });
  };
  const m = /^oci:\/\/(.*)$/i.exec(value);
  if (!m) bad('not an oci:// address');
  const rest = m![1]!;
  if (/[\s?#@%\\]/.test(rest) || /[\u0000-\u001f\u007f]/.test(rest)) bad('has a space, control character, ?, #, @, % or \\ in it (no user name, query or fragment belongs here)');
  const slash = rest.indexOf('/');
  if (slash <= 0) bad(slash === 0 ? 'no host' : 'no repository after the host');
  const hostPart = rest.slice(0, slash);
  let repository = rest.slice(slash + 1);
  if (repository.endsWith('/')) repository = repository.slice(0, -1);
  if (!repository) bad('no repository after the host');

  // host: name, IPv4, or [IPv6]; then an optional :port
  let hostname: string;
  let port: string | undefined;
  const v6 = /^\[([^\]]*)\](?::(\d*))?$/.exec(hostPart);
  if (v6) {
    if (isIP(v6[1]!) !== 6) bad(`"${v6[1]}" is not an IPv6 address`);
    hostname = `[${v6[1]!.toLowerCase()}]`;
    port = v6[2];
  } else {
    const hp = /^([^:]+)(?::(\d*))?$/.exec(hostPart);
    if (!hp) bad(`"${hostPart}" is not a host[:port] (an IPv6 address goes in brackets: [::1]:5000)`);
    hostname = hp![1]!.toLowerCase();
    port = hp![2];
    if (isIP(hostname) !== 4 && !hostname.split('.').every((l) => LABEL.test(l))) bad(`"${hp![1]}" is not a host name`);
  }
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) bad(`port "${port}" is not a number from 1 to 65535`);
    port = String(Number(port));
  }
  const host = port ? `${hostname}:${port}` : hostname;

  if (repository.includes(':')) bad('a tag or digest does not belong in the address: the cache names its own tags', 'give only the repository, e.g. oci://ghcr.io/acme/nginx-forge-cache');
  for (const c of repository.split('/')) {
    if (!c) bad('the repository has an empty path component (//)');
    if (COMPONENT.test(c)) continue;
    if (COMPONENT.test(c.toLowerCase())) bad(`repository component "${c}" has upper-case letters`, `registries only take lower-case repository names: ${repository.toLowerCase()}`);
    bad(`repository component "${c}" is not a valid name: lower-case letters and digits, separated by single ".", "_", "__" or "-"`);
  }
  if (host.length + 1 + repository.length > 255) bad('the address is longer than the 255 characters a registry takes for host and repository');

  const loopback = isLoopbackHost(hostname);
  const plainHttp = loopback || Boolean(opts.insecure);
  return { registry: `${plainHttp ? 'http' : 'https'}://${host}`, host, repository, plainHttp };
}

/** host/repo, as messages name the cache. */
export const refText = (r: Pick<RemoteRef, 'host' | 'repository'>): string => `${r.host}/${r.repository}`;

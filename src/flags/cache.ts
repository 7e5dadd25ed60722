// The remote stage-cache flags of build and package (declared once in commands/options.ts,
// addCacheOptions) and their one mapping to the remote cache's settings. Each flag has an
// environment twin for CI, used when the flag is not given:
//   --cache-from oci://…     NGINX_FORGE_CACHE_FROM       (several: separated by spaces or commas)
//   --cache-to oci://…       NGINX_FORGE_CACHE_TO
//   --cache-trust FILE       NGINX_FORGE_CACHE_TRUST      (public keys, PEM; several: commas)
//   --cache-sign-key FILE    NGINX_FORGE_CACHE_SIGN_KEY   (private key, PEM: `cache keygen`)
//   --cache-kinds K,…        NGINX_FORGE_CACHE_KINDS      (stage kinds taken from a registry)
//   --cache-insecure         NGINX_FORGE_CACHE_INSECURE=1 (plain HTTP to a non-loopback host)
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { parseRemoteRef } from '../remote/ref.ts';
import { KINDS } from '../kinds.ts';
import type { StageKind } from '../plan.ts';

export interface CacheFlags {
  cacheFrom?: string[];
  cacheTo?: string;
  cacheTrust?: string[];
  cacheSignKey?: string;
  cacheKinds?: string;
  cacheInsecure?: boolean;
}

export interface RemoteSettings {
  /** registries read, in order (empty when no trusted key is given: nothing unverifiable is read) */
  from: string[];
  to?: string;
  /** public keys (PEM files) an entry must be signed by */
  trust: string[];
  signKey?: string;
  /** stage kinds a registry's entries are accepted for */
  kinds: StageKind[];
  insecure: boolean;
  /** said once before the build (e.g. "--cache-from without --cache-trust: not read") */
  notes: string[];
}

/** The kinds whose entries can travel (those the stage cache keeps). */
export const CACHEABLE_KINDS = (Object.keys(KINDS) as StageKind[]).filter((k) => KINDS[k].cache !== 'none');

const list = (v: string | undefined, sep: RegExp) => (v ?? '').split(sep).map((s) => s.trim()).filter(Boolean);

/** The remote cache settings from the flags (else the environment); undefined when none is asked for. */
export function remoteSettingsOf(flags: CacheFlags, env: NodeJS.ProcessEnv = process.env): RemoteSettings | undefined {
  const from = flags.cacheFrom?.length ? flags.cacheFrom : list(env.NGINX_FORGE_CACHE_FROM, /[\s,]+/);
  const to = flags.cacheTo ?? (env.NGINX_FORGE_CACHE_TO || undefined);
  if (from.length === 0 && !to) return undefined;
  const trust = flags.cacheTrust?.length ? flags.cacheTrust : list(env.NGINX_FORGE_CACHE_TRUST, /,/);
  const signKey = flags.cacheSignKey ?? (env.NGINX_FORGE_CACHE_SIGN_KEY || undefined);
  const kindsText = flags.cacheKinds ?? env.NGINX_FORGE_CACHE_KINDS;
  const kinds = kindsText === undefined ? CACHEABLE_KINDS : (list(kindsText, /,/) as StageKind[]);
  if (kindsText !== undefined && kinds.length === 0) throw new UsageError(`--cache-kinds ${JSON.stringify(kindsText)}: no stage kind in it`, `choose from: ${CACHEABLE_KINDS.join(', ')}`);
  for (const k of kinds) {
    if (!CACHEABLE_KINDS.includes(k)) {
      throw new UsageError(`--cache-kinds: "${k}" is not a stage kind whose entries a cache keeps`, `choose from: ${CACHEABLE_KINDS.join(', ')}`);
    }
  }
  if (to && !signKey) {
    throw new UsageError(
      `--cache-to ${to} needs --cache-sign-key: every entry pushed is signed`,
      'make a key pair with `nginx-forge cache keygen --out <prefix>` and pass <prefix>.key (in CI: a secret)',
    );
  }
  for (const t of trust) checkKeyFile('--cache-trust', t, 'public');
  if (signKey) checkKeyFile('--cache-sign-key', signKey, 'private');
  const insecure = Boolean(flags.cacheInsecure) || env.NGINX_FORGE_CACHE_INSECURE === '1';
  // a malformed address is a usage error now, before any work
  for (const v of from) parseRemoteRef(v, { flag: '--cache-from', insecure });
  if (to) parseRemoteRef(to, { flag: '--cache-to', insecure });
  const notes: string[] = [];
  if (from.length && trust.length === 0) notes.push(`cache: ${from.join(', ')} not read: no --cache-trust key is given, and an entry is used only when signed by a trusted key`);
  return {
    from: trust.length ? from : [],
    to,
    trust,
    signKey,
    kinds,
    insecure,
    notes,
  };
}

const KEY_HINT = 'give the PEM file `nginx-forge cache keygen --out <prefix>` wrote (<prefix>.pub to trust, <prefix>.key to sign)';

/**
 * A key file given with `flag`: exists, and is a PEM private key (`kind` private) or a PEM public
 * key that is not a private one (`kind` public); else a usage error naming the flag and file.
 * Returns the PEM text. Shared by the cache and provenance flags.
 */
export function checkKeyFile(flag: string, f: string, kind: 'private' | 'public'): string {
  if (!existsSync(f) || !statSync(f).isFile()) throw new UsageError(`${flag} ${f}: no such file`, KEY_HINT);
  const pem = readFileSync(f, 'utf8');
  try {
    if (kind === 'private') {
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new Error('no PEM private key in it');
      createPrivateKey(pem);
    } else {
      if (/PRIVATE KEY/.test(pem)) throw new Error('it is a private key: trust the .pub, keep the .key secret');
      createPublicKey(pem);
    }
  } catch (e) {
    const why = (e as Error).message.startsWith('error:') ? `not a PEM ${kind} key` : (e as Error).message;
    throw new UsageError(`${flag} ${f}: ${why}`, KEY_HINT);
  }
  return pem;
}

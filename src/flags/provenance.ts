// The provenance flag of build and package (declared once in commands/options.ts,
// addProvenanceOption): the key that signs <out>/<name>.intoto.jsonl (src/provenance.ts).
//   --provenance-key FILE   NGINX_FORGE_PROVENANCE_KEY   (private key, PEM: `cache keygen`)
// Without either, the stage cache's signing key (--cache-sign-key / NGINX_FORGE_CACHE_SIGN_KEY)
// signs it. Without any key no provenance is written: an unsigned statement proves nothing (whoever
// can write --out can write one), and the summary says so.
import { checkKeyFile, type CacheFlags } from './cache.ts';

export interface ProvenanceFlags extends CacheFlags {
  provenanceKey?: string;
}

export interface ProvenanceKey {
  /** the file, and the flag (or variable) it came from */
  file: string;
  from: string;
  privatePem: string;
}

export const NO_PROVENANCE_NOTE = 'provenance: not written (no --provenance-key or --cache-sign-key: an unsigned statement would prove nothing)';

/** The provenance signing key from the flags, else the environment, else the cache signing key; undefined when none is given. */
export function provenanceKeyOf(flags: ProvenanceFlags, env: NodeJS.ProcessEnv = process.env): ProvenanceKey | undefined {
  const candidates: [string, string | undefined][] = [
    ['--provenance-key', flags.provenanceKey],
    ['NGINX_FORGE_PROVENANCE_KEY', env.NGINX_FORGE_PROVENANCE_KEY || undefined],
    ['--cache-sign-key', flags.cacheSignKey],
    ['NGINX_FORGE_CACHE_SIGN_KEY', env.NGINX_FORGE_CACHE_SIGN_KEY || undefined],
  ];
  const hit = candidates.find(([, f]) => f !== undefined);
  if (!hit) return undefined;
  const [from, file] = hit as [string, string];
  return { file, from, privatePem: checkKeyFile(from, file, 'private') };
}

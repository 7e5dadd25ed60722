// The recipe format, defined once with zod. The same definitions validate recipe files
// (pass 1, see load.ts) and generate the JSON Schema editors use (`nginx-forge schema`).
import { z } from 'zod';

export const Sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, { error: 'must be a sha256: exactly 64 lowercase hex characters' });

export const Fingerprint = z
  .string()
  .regex(/^[0-9A-F]{40}$/, { error: 'must be an OpenPGP v4 fingerprint: 40 uppercase hex characters' });

/** A file in a Debian-style source archive: `<mirror>/pool/<pool>/<file>`, mirror read from apt sources. */
export const DistroFile = z.strictObject({
  pool: z
    .string()
    .regex(/^(main|contrib|non-free|updates\/main)\/[a-z0-9]+\/[a-z0-9.+-]+$/, {
      error: 'must look like "main/n/nginx" (component/prefix/source-package)',
    })
    .describe('pool directory below the archive root, e.g. "main/n/nginx"'),
  file: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._+~-]*$/, { error: 'must be a plain file name (no "/" or "..")' })
    .describe('file name in the pool, e.g. "nginx_1.26.3.orig.tar.gz"'),
  archive: z
    .enum(['main', 'security'])
    .default('main')
    .describe('which apt source provides it: the main archive or the security archive'),
});

// Paths in recipes name files inside trees nginx-forge owns (an extracted source tree, a patch-set
// archive, recipes/keys/). They must stay there: relative, normalized, no ".." component, no
// absolute path (a topdir of "../../x" made build write outside the work directory; a
// licenseFiles entry of "../../etc/shadow" would have been shipped in the tarball).
const REL_PATH = /^(?!\.{1,2}(?:\/|$))(?!.*\/\.{1,2}(?:\/|$))[^/\\\0]+(?:\/[^/\\\0]+)*$/;

/** Why a string is not a normalized relative path inside `where` (undefined when it is). */
export function relPathProblem(s: unknown, where: string): string | undefined {
  if (typeof s !== 'string') return undefined;
  if (s === '') return `must not be empty (a path inside ${where})`;
  if (s.startsWith('/')) return `"${s}" is an absolute path; it must be relative to ${where}`;
  if (s.includes('\0')) return 'contains a NUL byte';
  if (s.includes('\\')) return `"${s}" contains "\\"; use "/" between directories`;
  const parts = s.split('/');
  if (parts.includes('..')) return `"${s}" contains "..": it must stay inside ${where}`;
  if (!REL_PATH.test(s)) {
    const norm = parts.filter((c) => c !== '' && c !== '.').join('/');
    return norm ? `"${s}" is not normalized: write "${norm}"` : `"${s}" names ${where} itself, not a path inside it`;
  }
  return undefined;
}

/** A normalized relative path inside `where` (also a `pattern` in the JSON Schema). */
const relPath = (where: string) =>
  z
    .string()
    .regex(REL_PATH, { error: (iss) => relPathProblem(iss.input, where) ?? `must be a relative path inside ${where}` });

/** One path component (a directory name), never "." or "..". */
const dirName = (where: string) =>
  z.string().regex(/^(?!\.{1,2}$)[^/\\\0]+$/, {
    error: (iss) => (typeof iss.input === 'string' && iss.input.includes('/') ? `"${iss.input}" must be a single directory name (no "/")` : `"${String(iss.input)}" must be a plain directory name ${where}`),
  });

const fileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, { error: 'must be a plain file name (no "/" or "..")' });

export const Signature = z.strictObject({
  urls: z.array(z.url()).default([]),
  distro: DistroFile.optional(),
  sha256: Sha256.describe('hash of the detached signature file itself'),
  size: z.number().int().positive().optional().describe('size of the signature file in bytes (the download cap)'),
  keyring: relPath('recipes/keys/').describe('armored public key file, relative to recipes/keys/'),
  fingerprints: z.array(Fingerprint).min(1).describe('signing keys accepted for this artifact'),
});

const ArtifactFields = z.strictObject({
  file: fileName.describe('name of the downloaded file (kept in the distfiles store next to its hash)'),
  sha256: Sha256,
  size: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('size in bytes: a download never takes more; without it the cap is the documented default (512 MiB)'),
  urls: z.array(z.url()).default([]).describe('upstream URLs, tried in order'),
  distro: DistroFile.optional(),
  signature: Signature.optional(),
});

const hasSource = [
  (a: { urls: string[]; distro?: unknown }) => a.urls.length > 0 || a.distro !== undefined,
  { error: 'needs at least one source: "urls" or "distro"' },
] as const;

/** Any pinned download (a source archive, a kernel package, ...). */
export const FileArtifact = ArtifactFields.refine(...hasSource);

/** A source archive: must unpack into exactly one top-level directory. */
export const Artifact = ArtifactFields.extend({
  topdir: dirName('(the top-level directory of the archive)').describe('the single top-level directory the archive must contain'),
}).refine(...hasSource);

export const PatchRef = z.strictObject({
  file: relPath('the patch set\'s "dir"').describe('path of the patch inside the patch-set archive directory'),
  sha256: Sha256,
});

/** A pinned patch series taken from a distribution's source package (e.g. Debian's security fixes). */
export const PatchSet = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/, { error: 'must be lowercase letters, digits and "-"' }),
  description: z.string().min(1),
  artifact: Artifact,
  dir: relPath('the extracted patch-set archive').describe('directory inside the archive that holds the patches (starts with the artifact\'s topdir)'),
  strip: z.number().int().min(0).default(1),
  patches: z.array(PatchRef).min(1).describe('applied in this order, each verified against its sha256'),
});

export const ComponentVersion = z.strictObject({
  artifacts: z.array(Artifact).min(1).describe('equivalent source archives, most preferred first'),
  patchSets: z.array(PatchSet).default([]),
  notes: z.string().optional(),
});

export const ComponentName = z.enum(['nginx', 'openssl', 'pcre2', 'zlib-ng', 'jemalloc']);
export type ComponentName = z.infer<typeof ComponentName>;

export const ComponentRecipe = z.strictObject({
  $schema: z.string().optional(),
  name: ComponentName,
  description: z.string().min(1),
  homepage: z.url(),
  license: z.string().min(1).describe('SPDX license identifier'),
  licenseFiles: z.array(relPath('the source tree')).min(1).describe('license files inside the source tree, shipped in artifacts'),
  versions: z.record(z.string().regex(/^\d+(\.\d+){1,2}$/, { error: 'must be a version like 1.26.3 or 10.48' }), ComponentVersion),
});

export const ComponentPin = z.strictObject({
  version: z.string().min(1),
  options: z.array(z.string()).default([]).describe("extra options for this component's own configure/cmake"),
});

export const ProfileRecipe = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9-]+$/, { error: 'must be lowercase letters, digits and "-"' }),
  description: z.string().min(1),
  components: z.strictObject({
    nginx: ComponentPin,
    openssl: ComponentPin,
    pcre2: ComponentPin,
    'zlib-ng': ComponentPin,
    jemalloc: ComponentPin,
  }),
  nginx: z.strictObject({
    prefix: z
      .string()
      .regex(/^\/(?!.*(?:^|\/)\.{1,2}(?:\/|$)).*$/, { error: (iss) => (String(iss.input).startsWith('/') ? `"${String(iss.input)}" must not contain "." or ".." components` : 'must be an absolute path') })
      .default('/usr'),
    paths: z
      .record(
        z.string(),
        z.string().regex(/^(?!.*(?:^|\/)\.\.(?:\/|$))[^\0]+$/, { error: (iss) => `"${String(iss.input)}" must not contain ".." (it would install outside the package root)` }),
      )
      .default({})
      .describe('path options for nginx configure, e.g. {"conf-path": "/etc/nginx/nginx.conf"}'),
    modules: z.array(z.string().regex(/^--(with|without)-[a-z0-9_-]+$/, { error: 'must be a --with-*/--without-* flag' })).default([]),
    ccOpt: z.array(z.string()).default([]),
    ldOpt: z.array(z.string()).default([]),
  }),
  ktls: z.boolean().describe('whether this profile promises kernel TLS (verify and smoke expect it)'),
});

export type Artifact = z.infer<typeof Artifact>;
export type FileArtifact = z.infer<typeof FileArtifact>;
export type PatchSet = z.infer<typeof PatchSet>;
export type ComponentRecipe = z.infer<typeof ComponentRecipe>;
export type ProfileRecipe = z.infer<typeof ProfileRecipe>;
export type DistroFile = z.infer<typeof DistroFile>;

export function jsonSchemas(): Record<string, unknown> {
  return {
    'component.schema.json': z.toJSONSchema(ComponentRecipe, { io: 'input' }),
    'profile.schema.json': z.toJSONSchema(ProfileRecipe, { io: 'input' }),
  };
}

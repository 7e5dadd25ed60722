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
  file: z.string().min(1).describe('file name in the pool, e.g. "nginx_1.26.3.orig.tar.gz"'),
  archive: z
    .enum(['main', 'security'])
    .default('main')
    .describe('which apt source provides it: the main archive or the security archive'),
});

const fileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, { error: 'must be a plain file name (no "/" or "..")' });

export const Signature = z.strictObject({
  urls: z.array(z.url()).default([]),
  distro: DistroFile.optional(),
  sha256: Sha256.describe('hash of the detached signature file itself'),
  keyring: z.string().min(1).describe('armored public key file, relative to recipes/keys/'),
  fingerprints: z.array(Fingerprint).min(1).describe('signing keys accepted for this artifact'),
});

const ArtifactFields = z.strictObject({
  file: fileName.describe('name of the downloaded file (kept in the distfiles store next to its hash)'),
  sha256: Sha256,
  size: z.number().int().positive().optional(),
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
  topdir: z.string().min(1).describe('the single top-level directory the archive must contain'),
}).refine(...hasSource);

/**
 * A source archive pinned by its content: the sha256 of its unpacked tree (`treeSha256`, defined in
 * src/fetch/treehash.ts and README), of its bytes (`sha256`), or both; at least one. For archives
 * whose bytes are not stable (a forge's /archive/<commit>.tar.gz), pin only the tree. Such an
 * archive is kept in the distfiles store as <distdir>/tree-<treeSha256>/<file>, and only after its
 * unpacked tree matched. (Component artifacts still need `sha256`: the plan, SBOM and FreeBSD
 * distinfo carry it.)
 */
export const SourceArtifact = ArtifactFields.extend({
  sha256: Sha256.optional().describe('hash of the archive file itself (optional when treeSha256 is pinned)'),
  treeSha256: Sha256.optional().describe('hash of the unpacked tree below topdir (see README: "Sources pinned by content")'),
  topdir: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, { error: 'must be a plain directory name' })
    .describe('the single top-level directory the archive must contain'),
})
  .refine(...hasSource)
  .refine((a) => a.sha256 !== undefined || a.treeSha256 !== undefined, { error: 'needs "sha256" (the archive) or "treeSha256" (its unpacked tree), or both' });

/** A test suite run against a built nginx (not linked into it): recipes/testsuites/<name>.json. */
export const TestSuiteRecipe = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9-]+$/, { error: 'must be lowercase letters, digits and "-"' }),
  description: z.string().min(1),
  homepage: z.url(),
  license: z.string().min(1).describe('SPDX license identifier'),
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/, { error: 'must be a full git commit id: 40 lowercase hex characters' })
    .describe('the upstream commit the snapshot is'),
  date: z.iso.date().describe('commit date (YYYY-MM-DD)'),
  artifact: SourceArtifact,
});

export const PatchRef = z.strictObject({
  file: z.string().min(1).describe('path of the patch inside the patch-set archive directory'),
  sha256: Sha256,
});

/** A pinned patch series taken from a distribution's source package (e.g. Debian's security fixes). */
export const PatchSet = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/, { error: 'must be lowercase letters, digits and "-"' }),
  description: z.string().min(1),
  artifact: Artifact,
  dir: z.string().min(1).describe('directory inside the archive that holds the patches'),
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
  licenseFiles: z.array(z.string().min(1)).min(1).describe('license files inside the source tree, shipped in artifacts'),
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
    prefix: z.string().startsWith('/', { error: 'must be an absolute path' }).default('/usr'),
    paths: z
      .record(z.string(), z.string())
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
export type SourceArtifact = z.infer<typeof SourceArtifact>;
export type TestSuiteRecipe = z.infer<typeof TestSuiteRecipe>;
export type PatchSet = z.infer<typeof PatchSet>;
export type ComponentRecipe = z.infer<typeof ComponentRecipe>;
export type ProfileRecipe = z.infer<typeof ProfileRecipe>;
export type DistroFile = z.infer<typeof DistroFile>;

export function jsonSchemas(): Record<string, unknown> {
  return {
    'component.schema.json': z.toJSONSchema(ComponentRecipe, { io: 'input' }),
    'profile.schema.json': z.toJSONSchema(ProfileRecipe, { io: 'input' }),
    'testsuite.schema.json': z.toJSONSchema(TestSuiteRecipe, { io: 'input' }),
  };
}

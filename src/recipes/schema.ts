// The recipe format, defined once with zod. The same definitions validate recipe files
// (pass 1, see load.ts) and generate the JSON Schema editors use (`nginx-forge schema`).
import { z } from 'zod';
import { PROTECTIONS } from '../hardening.ts';
import {
  controlProblem,
  ENV_NAME,
  envNameProblem,
  fileNameProblem,
  makefileWordProblem,
  nameProblem,
  OPTION_WORD,
  optionProblem,
  pathProblem,
  relPathProblem,
  SAFE_ABS_PATH,
  SAFE_FILE_NAME,
  SAFE_NAME,
  SAFE_NAME_MESSAGE,
  SAFE_REL_PATH,
} from './safe.ts';
import { TARGETS } from '../target.ts';

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
// licenseFiles entry of "../../etc/shadow" would have been shipped in the tarball), and of safe
// characters (the FreeBSD port writes them into shell lines). Install paths (a profile's prefix and
// paths, a library's prefix) are absolute. One rule for both: src/recipes/safe.ts.

/** A normalized relative path inside `where` (also a `pattern` in the JSON Schema). */
const relPath = (where: string) =>
  z
    .string()
    .regex(SAFE_REL_PATH, { error: (iss) => relPathProblem(iss.input, where) ?? `must be a relative path inside ${where}` });

/** A relative path inside `where`, or exactly `alt` ("" = the root itself, "." = all of it). */
const relPathOr = (alt: string, where: string) =>
  z.string().refine((v) => v === alt || SAFE_REL_PATH.test(v), { error: (iss) => relPathProblem(iss.input, where) ?? `must be "${alt}" or a relative path inside ${where}` });

/**
 * An absolute, normalized install path of safe characters (safe.ts): it is joined below DESTDIR
 * and written into configure lines, units, maintainer scripts and port Makefiles.
 */
export const absPath = (example = '/etc/nginx/nginx.conf') =>
  z.string().regex(SAFE_ABS_PATH, { error: (iss) => pathProblem(iss.input, example) ?? 'must be an absolute path' });

/** One path component (a directory name), never "." or "..", of safe characters. */
const dirName = (where: string) =>
  z.string().regex(SAFE_FILE_NAME, { error: (iss) => fileNameProblem(iss.input, `a plain directory name ${where}`) ?? `must be a plain directory name ${where}` });

const fileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+~-]*$/, { error: 'must be a plain file name (no "/" or "..")' });

/** Component, profile, variant and patch-set names (file, unit and package names). */
export const SafeName = z.string().regex(SAFE_NAME, { error: (iss) => nameProblem(iss.input) ?? SAFE_NAME_MESSAGE });

/** An environment variable name (written as KEY="value" into the port's shell lines). */
const EnvName = z.string().regex(ENV_NAME, { error: (iss) => envNameProblem(iss.input) ?? 'must be an environment variable name' });

/** A recipe argument (configure/cmake/make): any text but no control character (a newline ends a Makefile line). */
const Arg = z.string().refine((v) => controlProblem(v) === undefined, { error: (iss) => controlProblem(String(iss.input)) ?? 'must not contain control characters' });

/** A build.env value: the FreeBSD port writes it as KEY="value" into Makefile shell lines, where `$`, `"`, `` ` ``, `\` and `#` act even inside quotes. */
const EnvValue = z.string().refine((v) => makefileWordProblem(v) === undefined, { error: (iss) => makefileWordProblem(String(iss.input)) ?? 'must not contain $ " ` \\ or #' });

/** A make variable or target: make expands `$(…)` (`$(shell …)` runs a command), so no `$`. */
const makeWordProblem = (v: string) => controlProblem(v) ?? (v.includes('$') ? `${JSON.stringify(v)} contains "$", which make expands ($(shell …) runs a command)` : undefined);
const MakeArg = z.string().refine((v) => makeWordProblem(v) === undefined, { error: (iss) => makeWordProblem(String(iss.input)) ?? 'must not contain "$"' });

/** One configure or compiler option of a profile: no spaces, no shell syntax. */
const OptionWord = z.string().regex(OPTION_WORD, { error: (iss) => optionProblem(iss.input) ?? 'must be one option' });

/** A target's GNU triple, one of src/target.ts's. */
export const TargetTriple = z.enum(Object.keys(TARGETS) as [string, ...string[]], { error: (iss) => `${JSON.stringify(iss.input)} is not a target nginx-forge knows (known: ${Object.keys(TARGETS).join(', ')})` });

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

export const CveId = z.string().regex(/^CVE-\d{4}-\d{4,}$/, { error: 'must be a CVE id like CVE-2026-42055' });
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
  name: SafeName,
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
  file: relPath('the patch set\'s "dir"').describe('path of the patch inside the patch-set archive directory'),
  sha256: Sha256,
  cves: z
    .array(CveId)
    .default([])
    .describe('CVE ids this patch resolves, as its DEP-3 header or the distro changelog names them (empty for hardening, tests and follow-ups)'),
  notCompiled: z
    .strictObject({
      switch: OptionWord.describe('the configure switch of this component that leaves the code out, e.g. "no-quic"'),
      code: z.array(relPath('the source tree')).min(1).describe("the vulnerable source files this fix changes (the patch's non-test files), e.g. \"ssl/quic/quic_port.c\""),
    })
    .optional()
    .describe("the CVEs' code is not compiled when the build passes `switch`: the VEX document and the SBOM then say not_affected (vulnerable_code_not_present) with the switch as the justification; a build whose configure switches do not leave it out (a profile's enable-*) says fixed"),
});

/** A patch of the distro series deliberately not applied, with the reason. */
export const ExcludedPatch = z.strictObject({
  file: z.string().min(1),
  reason: z.string().min(10).describe('why it is left out (e.g. a Debian packaging change, not a fix)'),
});

/** A pinned patch series taken from a distribution's source package (e.g. Debian's security fixes). */
export const PatchSet = z.strictObject({
  name: SafeName,
  description: z.string().min(1),
  artifact: Artifact,
  dir: relPath('the extracted patch-set archive').describe('directory inside the archive that holds the patches (starts with the artifact\'s topdir)'),
  strip: z.number().int().min(0).default(1),
  patches: z.array(PatchRef).min(1).describe('applied in this order, each verified against its sha256'),
  excluded: z
    .array(ExcludedPatch)
    .default([])
    .describe("patches of the archive's series that are deliberately not applied, each with its reason"),
  distroVersion: z
    .string()
    .regex(/^[0-9][A-Za-z0-9.+~:-]*$/, { error: 'must be a Debian version like 1.26.3-3+deb13u9' })
    .optional()
    .describe('the distro source package version this patch set comes from (audit compares it with the Sources index)'),
});

/** A text a command must have written into a file of the build tree (a tool that silently wrote nothing fails the stage). */
const Expect = z.strictObject({ file: relPath('the build tree'), contains: z.string().min(1) });

/**
 * The tools a bootstrap can run to generate a configure script: each is run as itself, without
 * arguments, in the source tree. Its version goes into that library's stage key only
 * (src/toolchain.ts: bootstrapToolFacts); the FreeBSD port gets USES=autoreconf:build.
 */
export const BOOTSTRAP_TOOLS = ['autoconf'] as const;
export type BootstrapTool = (typeof BOOTSTRAP_TOOLS)[number];

/**
 * What a source archive of one version needs before its configure script can run: an archive of
 * a git tag (Debian's orig tarball of jemalloc 5.3.1) has no generated `configure` and none of the
 * files a release tarball's `make dist` writes (jemalloc's VERSION, otherwise read by `git describe`).
 */
export const Bootstrap = z.strictObject({
  files: z
    .record(relPath('the source tree'), Arg.refine((v) => v.length > 0, { error: 'must not be empty' }))
    .default({})
    .describe('files written into the source tree first, each one line of text (a newline is added), e.g. {"VERSION": "5.3.1-0-g<commit>"}'),
  run: z
    .enum(BOOTSTRAP_TOOLS, { error: (iss) => `${JSON.stringify(iss.input)} is not a bootstrap tool nginx-forge knows (known: ${BOOTSTRAP_TOOLS.join(', ')})` })
    .describe('the tool that generates the configure script, run in the source tree after the files are written'),
  expect: Expect.optional().describe('a file configure must then have written and a text it must contain, e.g. the version jemalloc.h defines (a bogus 0.0.0 fails the stage)'),
  reason: z.string().min(10).describe('why this version needs it (what the archive lacks)'),
});

export const ComponentVersion = z.strictObject({
  artifacts: z.array(Artifact).min(1).describe('equivalent source archives, most preferred first'),
  patchSets: z.array(PatchSet).default([]),
  bootstrap: Bootstrap.optional().describe('configure system: steps before configure for an archive without a generated configure script (a git-tag archive)'),
  tag: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, { error: 'must be a git tag name like "v1.0.0rc"' })
    .optional()
    .describe("the upstream git tag of this version when the identity purl's {version} would not spell it (Debian's 1.0.0~rc is tag v1.0.0rc): the purl's version becomes this tag"),
  notes: z.string().optional(),
});

/** Where `nginx-forge audit` looks for newer releases of a component. */
export const Watch = z.strictObject({
  upstream: z
    .strictObject({
      url: z.url().describe('a release listing page (download directory, GitHub releases/tags feed)'),
      pattern: z
        .string()
        .min(1)
        .describe('regular expression whose first group is a release version, e.g. "nginx-(\\d+\\.\\d+\\.\\d+)\\.tar\\.gz"'),
    })
    .optional(),
  distro: z
    .strictObject({
      source: z.string().regex(/^[a-z0-9][a-z0-9.+-]+$/, { error: 'must be a Debian source package name' }),
      suites: z
        .array(z.string().regex(/^[a-z0-9.-]+$/, { error: 'must be a suite name like "trixie-security"' }))
        .min(1)
        .describe('suites whose dists/<suite>/main/source/Sources.xz lists the package (suites ending in -security are read from the security archive)'),
    })
    .optional(),
});

/** How SBOM consumers (vulnerability scanners) identify a component; "{version}" is replaced. */
export const Identity = z.strictObject({
  cpe: z
    .string()
    .regex(/^cpe:2\.3:a:[a-z0-9_.-]+:[a-z0-9_.-]+:\{version\}(:[^:\s]+){7}$/, {
      error: 'must be a CPE 2.3 application name with "{version}" as its version, e.g. "cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*"',
    })
    .optional()
    .describe("the NVD's vendor:product for this component (leave it out when the NVD has none: a made-up CPE matches nothing)"),
  purl: z
    .string()
    .regex(/^pkg:[a-z][a-z0-9.+-]*\/[^@\s]+@[^@\s]*\{version\}[^@\s]*$/, {
      error: 'must be a package URL with "{version}" in its version, e.g. "pkg:github/openssl/openssl@openssl-{version}"',
    })
    .describe('package URL of the upstream release (pkg:github/<owner>/<repo>@<tag> for GitHub-hosted projects)'),
});

/** Component names are open: a recipe file recipes/components/<name>.json defines one. */
export const ComponentName = SafeName;
export type ComponentName = z.infer<typeof ComponentName>;

/**
 * How a library is compiled: one generic builder per build system (src/stages/library.ts).
 *   configure: `<script> --prefix=<prefix> <args> <options>`, `make <before…>`, `make <targets>`, `make <install> DESTDIR=…`
 *   cmake:     `cmake -S . -B <dir> -DCMAKE_INSTALL_PREFIX=<prefix> <args> <options>`, build, install
 * After the install, <DESTDIR><prefix> becomes the output (below `outputDir`), or, with `copy`,
 * the listed files are copied from the build tree (a tree that nginx's --with-*= rule expects).
 */
export const BuildSpec = z.strictObject({
  system: z.enum(['configure', 'cmake']).describe('the generic builder that compiles this component'),
  buildDir: z.string().regex(/^(\.|[A-Za-z0-9._-]+)$/, { error: 'must be "." or a folder name' }).optional().describe('cmake: the build directory below the source tree (default build-forge; "." builds in the tree, leaving a top-level Makefile as nginx\'s --with-*= rules expect)'),
  script: z.string().regex(/^\.\/[A-Za-z0-9._-]+$/, { error: 'must be a script in the source tree, e.g. "./configure"' }).default('./configure').describe('configure system: the configure script'),
  args: z.array(Arg).default([]).describe('fixed arguments of the configure script / cmake'),
  trim: z
    .array(Arg)
    .default([])
    .describe('configure switches that only leave out what nginx does not link (subsystems, programs, tests, docs); passed after `args`; the naive benchmark baseline builds without them'),
  env: z.record(EnvName, EnvValue.nullable()).default({}).describe('environment changes for every step: a value sets, null unsets (e.g. OpenSSL records CFLAGS in its version string)'),
  compilerFlags: z
    .enum(['CFLAGS', 'arguments'])
    .default('CFLAGS')
    .describe('how the build takes the profile\'s hardening flags on top of its own optimisation flags: CFLAGS in the environment (autotools and CMake: CMake appends CMAKE_C_FLAGS_RELEASE to it), or `arguments` of the configure script (OpenSSL\'s Configure appends compiler options given as arguments to its own -O3; CFLAGS in its environment would replace them)'),
  before: z
    .array(
      z.strictObject({
        targets: z.array(MakeArg).min(1).describe('make targets'),
        makeArgs: z.array(MakeArg).default([]).describe('make variables for this run only, e.g. "EXTRA_CFLAGS=-O0 -g0" (no "$": make would expand it)'),
        reason: z.string().min(1).describe('why: what these targets are and why nginx does not need them built the usual way'),
        expect: Expect
          .optional()
          .describe('a file this run must have written and a text it must contain: a tool that silently wrote nothing fails the stage'),
      }),
    )
    .default([])
    .describe('make runs before `targets`, each with its own variables: build-time inputs nginx never links (e.g. objects only read for their symbol names) built cheaply; make does not remake them afterwards'),
  targets: z.array(MakeArg).default([]).describe('make targets that build only what nginx links (empty: the default target)'),
  install: z.array(Arg).default([]).describe('configure system: make targets that install, run with DESTDIR (empty with `copy`: no install)'),
  prefix: absPath().default('/usr').describe('install prefix compiled into the library'),
  outputDir: relPathOr('', 'the output')
    .default('').describe('where the installed prefix goes inside the output, e.g. ".openssl" (nginx\'s --with-openssl= layout)'),
  copy: z.array(relPath('the build tree')).default([]).describe('files and folders copied from the build tree into the output instead of an install (mtimes kept)'),
  produces: z.array(relPath('the output')).default([]).describe('files the output must contain, checked after the build'),
  flagOptions: z.record(z.string(), z.array(OptionWord)).default({}).describe('extra options when the profile\'s nginx flags contain the key, e.g. {"--with-pcre-jit": ["--enable-jit"]}'),
  cross: z
    .partialRecord(
      TargetTriple,
      z.strictObject({
        script: z.string().regex(/^\.\/[A-Za-z0-9._-]+$/, { error: 'must be a script in the source tree, e.g. "./Configure"' }).optional().describe('configure system: the script of a cross build instead of `script`'),
        args: z.array(Arg).default([]).describe('arguments added after `args` and `trim` in a cross build for this target, e.g. OpenSSL\'s ["linux-aarch64", "--cross-compile-prefix=aarch64-linux-gnu-"]'),
        host: z.boolean().default(true).describe('configure system: pass --host=<triple> (autoconf); false for a script that takes the target otherwise (OpenSSL)'),
      }),
    )
    .default({})
    .describe('what a cross build for a target (GNU triple) changes: configure scripts get --host=<triple>, CMake a toolchain file the builder writes; this says what else one component needs'),
});

/**
 * How nginx consumes a library. `{dir}` is the library's place relative to nginx's source tree
 * (e.g. ../openssl-3.5.7 or ../deps/zlib-ng), `{options}` the profile's options joined by spaces.
 */
export const ConsumeSpec = z.strictObject({
  placement: z.enum(['source', 'deps']).describe('source: next to nginx under its own top directory (a --with-*= tree nginx\'s make can also build); deps: under deps/<name>'),
  configureArgs: z.array(Arg).default([]).describe('nginx ./configure arguments, e.g. "--with-openssl={dir}"'),
  ccOpt: z.array(Arg).default([]).describe('joined into nginx\'s one --with-cc-opt'),
  ldOpt: z.array(Arg).default([]).describe('joined into nginx\'s one --with-ld-opt'),
  newerThanMakefile: z.array(relPathOr('.', '{dir}')).default([]).describe('paths below {dir} touched after nginx\'s configure so its make links them instead of rebuilding them ("." for all)'),
  neededBy: z
    .enum(['configure', 'make'])
    .default('configure')
    .describe('configure: nginx\'s ./configure reads the build output (its feature tests link it, or it looks into the tree); make: only nginx\'s make uses it (configure just writes rules for an in-tree --with-openssl= tree), so nginx\'s configure runs while it is still being built'),
});

/** An encoding a module adds (Content-Encoding), proved by the smoke test on real responses. */
export const ModuleEncoding = z.strictObject({
  token: z.enum(['br', 'gzip', 'deflate']).describe('the Content-Encoding token the module produces; the smoke test decodes it with node:zlib'),
  dynamic: z.array(z.string()).default([]).describe('directives of a location that compresses on the fly, e.g. ["brotli on;"]'),
  static: z.array(z.string()).default([]).describe('directives of a location that serves a pre-compressed file, e.g. ["brotli_static on;"] (empty: no static proof)'),
  staticSuffix: z.string().regex(/^\.[a-z0-9]+$/, { error: 'must be a file suffix like ".br"' }).optional().describe('suffix of the pre-compressed file next to the original'),
});

/**
 * A third-party nginx module (role "module"): its source tree is placed next to nginx's
 * (`nginx.placement`) and passed to configure as --add-module={dir} (static) or
 * --add-dynamic-module={dir} (dynamic), as the profile's pin says (`link`).
 */
export const ModuleSpec = z.strictObject({
  configDir: relPathOr('.', 'the module source tree').default('.').describe('directory of the module\'s `config` script inside its source tree'),
  names: z.array(z.string().regex(/^ngx_[a-z0-9_]+_module$/, { error: 'must be an nginx module name like ngx_http_brotli_filter_module' })).min(1).describe('the nginx modules it builds; a dynamic build installs <name>.so for each into the modules path'),
  requires: z.array(ComponentName).default([]).describe('library components it links (built by the generic builders); the profile must list them'),
  links: z.array(z.enum(['static', 'dynamic'])).min(1).default(['static', 'dynamic']).describe('how it can be linked'),
  directives: z.array(z.string()).default([]).describe('http{} directives that use it: verify runs `nginx -t` with them (and the load_module lines of a dynamic build)'),
  locationDirectives: z.array(z.string()).default([]).describe('directives that use it inside a location{} (for modules whose directives live there, e.g. echo): part of the same `nginx -t`'),
  encoding: ModuleEncoding.optional().describe('a Content-Encoding it adds: the smoke test proves it on real responses'),
  package: z.string().regex(/^[a-z0-9][a-z0-9-]+$/, { error: 'must be lowercase letters, digits and "-", e.g. "http-brotli"' }).optional().describe('package suffix of a dynamic build (Debian: libnginx-mod-<package>; here nginx-forge-<profile>-mod-<package>)'),
});

/** What verify checks in the binary for this component. */
export const VerifySpec = z.strictObject({
  binaryContains: z.string().optional().describe('a string the linked library leaves in the binary, e.g. "zlib-ng"'),
  sharedNames: z.array(z.string()).default([]).describe('shared-library names that must NOT be in the binary\'s NEEDED list (static linking), e.g. "libz"'),
  nginxT: z
    .strictObject({ env: z.record(EnvName, Arg), expect: z.string() })
    .optional()
    .describe('run nginx -t with this environment and expect this text, e.g. jemalloc statistics'),
});

export const ComponentRecipe = z.strictObject({
  $schema: z.string().optional(),
  name: ComponentName,
  displayName: z.string().min(1).optional().describe('how people write it: "OpenSSL", "PCRE2" (default: name)'),
  description: z.string().min(1),
  homepage: z.url(),
  license: z.string().min(1).describe('SPDX license identifier'),
  licenseFiles: z.array(relPath('the source tree')).min(1).describe('license files inside the source tree, shipped in artifacts'),
  role: z
    .enum(['server', 'tls', 'library', 'module'])
    .default('library')
    .describe('server: nginx itself; tls: the TLS library slot (OpenSSL or a fork); library: any other linked library; module: a third-party nginx module (source tree passed to --add-module/--add-dynamic-module)'),
  ktls: z
    .strictObject({ option: OptionWord.optional(), minVersion: z.string() })
    .optional()
    .describe('kernel TLS: the option that enables it (tls role) and the first version that can do it'),
  build: BuildSpec.optional().describe('libraries: how the generic builder compiles it'),
  nginx: ConsumeSpec.optional().describe('libraries: how nginx\'s configure consumes the build output; modules: where the source tree goes'),
  module: ModuleSpec.optional().describe('modules: what the module builds, what it needs, how it is proved'),
  verify: VerifySpec.default({ sharedNames: [] }),
  identity: Identity.optional().describe('CPE and package URL written into the SBOM'),
  watch: Watch.optional().describe('where `nginx-forge audit` looks for newer upstream releases and distro revisions'),
  versions: z.record(
    z.string().regex(/^\d+(\.\d+){1,2}(~[a-z0-9]+(\.[a-z0-9]+)*)?$/, { error: 'must be a version like 1.26.3, 10.48 or 1.0.0~rc ("~": a pre-release, ordered before 1.0.0)' }),
    ComponentVersion,
  ),
});

export const ComponentPin = z.strictObject({
  version: z.string().min(1),
  options: z.array(OptionWord).default([]).describe("extra options for this component's own configure/cmake"),
  link: z.enum(['static', 'dynamic']).optional().describe('modules only: static (--add-module, inside the nginx binary) or dynamic (--add-dynamic-module, a .so loaded with load_module; needs --with-compat)'),
});

export const ProfileRecipe = z.strictObject({
  $schema: z.string().optional(),
  name: SafeName,
  description: z.string().min(1),
  target: TargetTriple.optional().describe('the machine this profile builds for, a GNU triple (default: the build host\'s; `--target` overrides it); another one than the host\'s is a cross build'),
  components: z
    .record(ComponentName, ComponentPin)
    .describe('the components this profile builds, in build order; nginx must be one of them, a component not listed is not built'),
  nginx: z.strictObject({
    prefix: absPath('/usr/share/nginx').default('/usr').describe('nginx\'s --prefix: absolute, normalised, letters, digits and / . _ + ~ - only'),
    paths: z
      .record(
        z.string(),
        absPath('/var/log/nginx/error.log'),
      )
      .default({})
      .describe('path options for nginx configure, e.g. {"conf-path": "/etc/nginx/nginx.conf"}: absolute, normalised, letters, digits and / . _ + ~ - only; log, temp and configuration files in a directory of nginx\'s own (/var/log/nginx/error.log, not /var/log/error.log)'),
    modules: z.array(z.string().regex(/^--(with|without)-[a-z0-9_-]+$/, { error: 'must be a --with-*/--without-* flag' })).default([]),
    ccOpt: z.array(OptionWord).default([]),
    ldOpt: z.array(OptionWord).default([]),
    variants: z
      .array(
        z.strictObject({
          name: SafeName,
          description: z.string().min(1),
          modules: z.array(z.string().regex(/^--(with|without)-[a-z0-9_-]+$/, { error: 'must be a --with-*/--without-* flag' })).min(1),
        }),
      )
      .default([])
      .describe(
        'twin binaries built from the same dependency stages with extra configure flags, e.g. {"name": "nginx-debug", "modules": ["--with-debug"]} as pkg-oss ships it: installed as <sbin dir>/<name>, verified, smoke-tested and packaged beside nginx',
      ),
  }),
  ktls: z.boolean().describe('whether this profile promises kernel TLS (verify and smoke expect it)'),
  hardening: z
    .array(z.enum(PROTECTIONS))
    .default([])
    .describe('the protections every library, module and nginx itself is compiled and linked with (src/hardening.ts turns them into flags for the target: cet only on x86_64); verify fails when the binary lacks one'),
  sanitizers: z
    .boolean()
    .default(false)
    .describe('a diagnostic build with sanitizers (-fsanitize= in nginx.ccOpt/ldOpt), not for production: CI builds it in its own job and runs nginx\'s test suite under it instead of packaging it'),
});

/**
 * An edit of one of the base profile's lists (profiles with "extends"): a list replaces the
 * base's; an object removes entries (each must be in the base's list), then puts `prepend` first
 * and `add` last (neither may already be in it). The loader applies it (extends.ts).
 */
const listEdit = <T extends z.ZodType>(item: T, what: string) =>
  z.union(
    [
      z.array(item),
      z.strictObject({
        remove: z.array(item).optional().describe(`entries of the base's ${what} to drop; each must be there`),
        prepend: z.array(item).optional().describe(`entries put before the base's ${what} (order matters for compiler options)`),
        add: z.array(item).optional().describe(`entries put after the base's ${what}`),
      }),
    ],
    { error: `must be a list (it replaces the base's ${what}) or {"add": [...], "remove": [...], "prepend": [...]}` },
  );

const profileNginx = ProfileRecipe.shape.nginx.shape;
const ProfileVariant = profileNginx.variants.unwrap().element;

/**
 * A profile written as the difference from another: recipes/profiles/<name>.json with "extends".
 * load.ts resolves the chain into a complete ProfileRecipe before any other rule runs; what is not
 * named here is the base's. Objects (nginx.paths, a component's pin) merge by key.
 */
export const ProfileExtension = z.strictObject({
  $schema: z.string().optional(),
  name: ProfileRecipe.shape.name,
  extends: ProfileRecipe.shape.name.describe('the base profile (recipes/profiles/<extends>.json), itself complete or extending another'),
  description: ProfileRecipe.shape.description,
  target: ProfileRecipe.shape.target,
  components: z
    .strictObject({
      remove: z.array(ComponentName).optional().describe("components of the base's this profile does not build"),
      change: z
        .record(
          ComponentName,
          z.strictObject({
            version: ComponentPin.shape.version.optional(),
            options: listEdit(z.string(), 'options').optional(),
            link: ComponentPin.shape.link,
          }),
        )
        .optional()
        .describe("changes to the base's pins, merged by field (the component must be the base's)"),
      add: z.record(ComponentName, ComponentPin).optional().describe("components the base does not have, built after the base's, in this order"),
    })
    .optional()
    .describe("what changes in the base's components: removed first, then changed, then added"),
  nginx: z
    .strictObject({
      prefix: profileNginx.prefix.unwrap().optional(),
      paths: z
        .record(z.string(), profileNginx.paths.unwrap().valueType.nullable())
        .optional()
        .describe("merged into the base's by key; null removes the base's entry (nginx's default applies)"),
      modules: listEdit(profileNginx.modules.unwrap().element, 'nginx.modules').optional(),
      ccOpt: listEdit(z.string(), 'nginx.ccOpt').optional(),
      ldOpt: listEdit(z.string(), 'nginx.ldOpt').optional(),
      variants: z
        .union(
          [
            z.array(ProfileVariant),
            z.strictObject({
              remove: z.array(ProfileVariant.shape.name).optional().describe("names of the base's twins this profile does not build"),
              add: z.array(ProfileVariant).optional().describe('twins the base does not have'),
            }),
          ],
          { error: 'must be a list of twins (it replaces the base\'s) or {"add": [...], "remove": ["<name>"]}' },
        )
        .optional(),
    })
    .optional(),
  ktls: ProfileRecipe.shape.ktls.optional(),
  hardening: listEdit(z.enum(PROTECTIONS), 'hardening').optional(),
  sanitizers: ProfileRecipe.shape.sanitizers.unwrap().optional(),
});

/** What recipes/profiles/<name>.json may hold: a complete profile, or one that extends another. */
export const ProfileFile = z.union([ProfileRecipe, ProfileExtension]);

export type Artifact = z.infer<typeof Artifact>;
export type FileArtifact = z.infer<typeof FileArtifact>;
export type SourceArtifact = z.infer<typeof SourceArtifact>;
export type TestSuiteRecipe = z.infer<typeof TestSuiteRecipe>;
export type PatchSet = z.infer<typeof PatchSet>;
export type Watch = z.infer<typeof Watch>;
export type ComponentRecipe = z.infer<typeof ComponentRecipe>;
export type ProfileRecipe = z.infer<typeof ProfileRecipe>;
export type ProfileExtension = z.infer<typeof ProfileExtension>;
export type DistroFile = z.infer<typeof DistroFile>;
export type Bootstrap = z.infer<typeof Bootstrap>;
/**
 * A library's build data. In a plan (PlanComponent.build) it also carries the pinned version's
 * `bootstrap` (recipe `versions.<v>.bootstrap`), so the builder, the port and the stage key see it
 * with the rest of the build; a recipe's `build` section cannot hold it.
 */
export type BuildSpec = z.infer<typeof BuildSpec> & { bootstrap?: Bootstrap };
export type ConsumeSpec = z.infer<typeof ConsumeSpec>;
export type VerifySpec = z.infer<typeof VerifySpec>;
export type ModuleSpec = z.infer<typeof ModuleSpec>;

export function jsonSchemas(): Record<string, unknown> {
  return {
    'component.schema.json': z.toJSONSchema(ComponentRecipe, { io: 'input' }),
    'profile.schema.json': z.toJSONSchema(ProfileFile, { io: 'input' }),
    'testsuite.schema.json': z.toJSONSchema(TestSuiteRecipe, { io: 'input' }),
  };
}

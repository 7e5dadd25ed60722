// The other way of answering nginx's configure in a cross build, kept only to check the one the
// product uses: pre-seeded answers, the Yocto/Buildroot way, instead of running the test programs
// under qemu-user (src/target.ts autotestCompiler). Nothing of the target runs: a size test is
// answered from the target ABI's table (AAPCS64, LP64 glibc), the byte-order test by the ABI's
// byte order, and a feature test that compiles and links for the target is taken to work there
// (Yocto's nginx-cross.patch does the same). The arm64 e2e test configures nginx both ways and
// compares the two objs/ngx_auto_config.h.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Target } from '../../src/target.ts';

/** sizeof of the types nginx's auto/unix asks about, on aarch64-linux-gnu (LP64, 64-bit time_t and off_t). */
export const AARCH64_SIZES: Record<string, number> = {
  int: 4,
  long: 8,
  'long long': 8,
  'void *': 8,
  sig_atomic_t: 4,
  size_t: 8,
  off_t: 8,
  time_t: 8,
};

/**
 * A directory holding `<triple>-gcc`: it compiles with the real cross compiler, then replaces
 * objs/autotest with a script that answers as the table says, reading the test's own source.
 */
export function preseededCompilerDir(dir: string, t: Target, sizes: Record<string, number>, pathVar: string): string {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const answer = path.join(dir, 'answer.sh');
  const cases = Object.entries(sizes)
    .map(([type, n]) => `  *'printf("%d", (int) sizeof(${type}));'*) printf %s ${n}; exit 0 ;;`)
    .join('\n');
  writeFileSync(
    answer,
    [
      '#!/bin/sh',
      '# pre-seeded answers for the test program whose source is $1',
      'src=$(cat "$1")',
      'case $src in',
      cases,
      "  *'(int) sizeof('*) echo \"no pre-seeded size for this type\" >&2; exit 1 ;;",
      '  *0x11223344*) exit 0 ;;  # auto/endianness: little endian',
      '  *) exit 0 ;;  # a feature test that compiled and linked for the target: taken to work',
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(answer, 0o755);
  const launcher = `#!/bin/sh\\nexec ${answer} "$0.c"\\n`;
  writeFileSync(
    path.join(bin, `${t.triple}-gcc`),
    [
      '#!/bin/sh',
      `PATH='${pathVar}'`,
      'export PATH',
      'out=; prev=',
      'for a do [ "$prev" = -o ] && out=$a; prev=$a; done',
      `${t.triple}-gcc "$@" || exit`,
      'case $out in',
      `*/autotest) rm -f "$out" && printf '${launcher}' >"$out" && chmod +x "$out" ;;`,
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(path.join(bin, `${t.triple}-gcc`), 0o755);
  return bin;
}

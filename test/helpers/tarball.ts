// Build tar archives with arbitrary (also hostile) members for extraction tests, using Python's
// tarfile module: it writes exactly the headers it is given (absolute names, "..", devices,
// FIFOs, links anywhere), which is what these tests need. Nothing binary is committed.
import { existsSync } from 'node:fs';
import { execa } from 'execa';

export type Member =
  | { name: string; type: 'file'; data?: string; mode?: number }
  | { name: string; type: 'dir'; mode?: number }
  | { name: string; type: 'symlink' | 'hardlink'; target: string }
  | { name: string; type: 'chr' | 'blk' | 'fifo' };

export type Compression = 'gz' | 'xz' | 'bz2' | 'none';

// the system interpreter starts faster than a version-manager shim
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const SCRIPT = `
import io, json, sys, tarfile
spec = json.load(sys.stdin)
mode = 'w' if spec['compression'] == 'none' else 'w:' + spec['compression']
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE, 'hardlink': tarfile.LNKTYPE,
         'chr': tarfile.CHRTYPE, 'blk': tarfile.BLKTYPE, 'fifo': tarfile.FIFOTYPE}
with tarfile.open(spec['out'], mode, format=tarfile.PAX_FORMAT) as t:
    for m in spec['members']:
        ti = tarfile.TarInfo(m['name'])
        ti.type = types[m['type']]
        ti.mtime = 1700000000
        ti.uid = ti.gid = 4242
        ti.uname = ti.gname = 'builder'
        ti.mode = m.get('mode', 0o755 if m['type'] == 'dir' else 0o644)
        if m['type'] in ('symlink', 'hardlink'):
            ti.linkname = m['target']
        if m['type'] in ('chr', 'blk'):
            ti.devmajor, ti.devminor = 1, 3
        data = m.get('data', '').encode() if m['type'] == 'file' else b''
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data) if data else None)
`;

/** Write `members` (in this order) into the archive `out`. */
export async function makeTarball(out: string, members: Member[], compression: Compression = 'gz'): Promise<string> {
  await execa(PYTHON, ['-c', SCRIPT], { input: JSON.stringify({ out, members, compression }) });
  return out;
}

/** A small, well-formed source tree under `top/`. */
export function goodTree(top: string): Member[] {
  return [
    { name: `${top}`, type: 'dir' },
    { name: `${top}/configure`, type: 'file', data: '#!/bin/sh\necho configured\n', mode: 0o755 },
    { name: `${top}/README`, type: 'file', data: 'hello\n', mode: 0o644 },
    { name: `${top}/src`, type: 'dir' },
    { name: `${top}/src/main.c`, type: 'file', data: 'int main(void) { return 0; }\n', mode: 0o444 },
    { name: `${top}/include`, type: 'symlink', target: 'src' },
    { name: `${top}/src/up`, type: 'symlink', target: '../README' },
    { name: `${top}/README.hardlink`, type: 'hardlink', target: `${top}/README` },
    { name: `${top}/scripts/gen.sh`, type: 'file', data: 'echo gen\n', mode: 0o4755 },
  ];
}

// A minimal writer for the "newc" cpio format the kernel unpacks as initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): 110-byte ASCII header,
// NUL-terminated name, both padded to 4 bytes. Deterministic: uid/gid 0, mtime 0.

export type CpioEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; data: Buffer; mode?: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'char'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function record(ino: number, name: string, mode: number, data: Buffer, nlink: number, rdev: [number, number] = [0, 0]): Buffer {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const header =
    '070701' +
    [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0].map(hex8).join('');
  return Buffer.concat([
    Buffer.from(header, 'ascii'),
    nameBuf,
    Buffer.alloc(pad4(110 + nameBuf.length)),
    data,
    Buffer.alloc(pad4(data.length)),
  ]);
}

export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.name.replace(/^\/+/, '');
    switch (e.type) {
      case 'dir':
        parts.push(record(ino++, name, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0), 2));
        break;
      case 'file':
        parts.push(record(ino++, name, S_IFREG | (e.mode ?? 0o644), e.data, 1));
        break;
      case 'symlink':
        parts.push(record(ino++, name, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'), 1));
        break;
      case 'char':
        parts.push(record(ino++, name, S_IFCHR | (e.mode ?? 0o600), Buffer.alloc(0), 1, [e.major, e.minor]));
        break;
    }
  }
  parts.push(record(0, 'TRAILER!!!', 0, Buffer.alloc(0), 1));
  return Buffer.concat(parts);
}

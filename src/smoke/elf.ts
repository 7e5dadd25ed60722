// What an ELF file holds, read with binutils (readelf, nm): its data sections (where string
// literals live), its symbols, what it imports. The smoke test looks for nginx's own strings and
// OpenSSL's kTLS code there, not anywhere in the file: a comment in a shell script is no proof.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { MissingToolError } from '../errors.ts';

export interface ElfImage {
  path: string;
  sha256: string;
  /** the file is an ELF object (starts with \x7fELF; its header may still say it cannot run here: `problem`) */
  elf: boolean;
  /** the first bytes, printable, when it is not an ELF (for the message: "#!/bin/sh") */
  head?: string;
  /** the data sections (.rodata*, .data*) one after another, NUL-separated */
  data: Buffer;
  /** defined symbols (undefined: no symbol table, a stripped file) */
  symbols?: string[];
  /** undefined dynamic symbols: what it imports from shared libraries */
  imports: string[];
  /** the ELF header: 32/64-bit, byte order, type, machine */
  header?: ElfHeader;
  /** why this ELF cannot be the executable under test (another type or machine, unreadable by binutils) */
  problem?: string;
}

export interface ElfHeader {
  bits: 32 | 64;
  endian: 'little' | 'big';
  /** e_type: 1 relocatable, 2 executable, 3 shared object (PIE executables too), 4 core */
  type: number;
  /** e_machine: 62 x86-64, 183 AArch64, ... */
  machine: number;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ET_NAMES: Record<number, string> = { 0: 'an ELF of no type (ET_NONE)', 1: 'a relocatable object file (ET_REL, a .o)', 4: 'a core dump (ET_CORE)' };
/** e_machine of the machines Node runs on, by process.arch */
const MACHINES: Record<string, { machine: number; name: string }> = {
  x64: { machine: 62, name: 'x86-64' },
  arm64: { machine: 183, name: 'AArch64' },
  ia32: { machine: 3, name: 'i386' },
  arm: { machine: 40, name: 'ARM' },
  ppc64: { machine: 21, name: 'PowerPC64' },
  s390x: { machine: 22, name: 'S/390' },
  riscv64: { machine: 243, name: 'RISC-V' },
};

/**
 * The ELF header of a file's first bytes (undefined: no \x7fELF magic), and why it cannot be
 * run here as the binary under test: a header cut short, an unknown class or byte order, a type
 * other than an executable or a (PIE) shared object, another machine than this one.
 */
export function parseElfHeader(head: Buffer, arch: string = process.arch): { header?: ElfHeader; problem?: string } | undefined {
  if (head.length < 4 || !head.subarray(0, 4).equals(ELF_MAGIC)) return undefined;
  if (head.length < 20) return { problem: `its ELF header is cut short (${head.length} bytes)` };
  const cls = head[4];
  const data = head[5];
  if (cls !== 1 && cls !== 2) return { problem: `its ELF header has an unknown class (EI_CLASS ${cls})` };
  if (data !== 1 && data !== 2) return { problem: `its ELF header has an unknown byte order (EI_DATA ${data})` };
  const header: ElfHeader = {
    bits: cls === 1 ? 32 : 64,
    endian: data === 1 ? 'little' : 'big',
    type: data === 1 ? head.readUInt16LE(16) : head.readUInt16BE(16),
    machine: data === 1 ? head.readUInt16LE(18) : head.readUInt16BE(18),
  };
  if (header.type !== 2 && header.type !== 3) return { header, problem: `it is ${ET_NAMES[header.type] ?? `an ELF of type ${header.type}`}, not an executable` };
  const here = MACHINES[arch];
  if (here && header.machine !== here.machine) return { header, problem: `it is an ELF for another machine (e_machine ${header.machine}; this one is ${here.name}, ${here.machine})` };
  return { header };
}

function fileHead(file: string, n = 64): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** Section headers as `readelf -S -W` prints them: name, type, file offset, size. */
export function parseSections(readelfS: string): { name: string; type: string; offset: number; size: number }[] {
  const out: { name: string; type: string; offset: number; size: number }[] = [];
  for (const line of readelfS.split('\n')) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)\s/.exec(line);
    if (m) out.push({ name: m[1]!, type: m[2]!, offset: parseInt(m[3]!, 16), size: parseInt(m[4]!, 16) });
  }
  return out;
}

/** Symbol names from `nm` output lines ("addr T name", "U name"). */
export function parseNm(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(?:[0-9a-f]+)?\s+[A-Za-z?-]\s+(\S+)/.exec(line);
    if (m) out.push(m[1]!.replace(/@.*$/, ''));
  }
  return out;
}

async function tool(cmd: string, args: string[]) {
  try {
    return await execa(cmd, args, { reject: false, maxBuffer: 512 * 1024 * 1024, timeout: 120_000 });
  } catch (e) {
    throw new MissingToolError(cmd, 'the smoke test: reading the binary (binutils)', (e as Error).message);
  }
}

/** `arch`: the machine the file must be for, as node names it (default this one; a cross build's target's nodeArch). */
export async function readElf(file: string, arch: string = process.arch): Promise<ElfImage> {
  const head = fileHead(file);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  const h = parseElfHeader(head, arch);
  if (!h) {
    return { path: file, sha256, elf: false, head: head.toString('latin1').split('\n')[0]!.replace(/[^\x20-\x7e]/g, '?').slice(0, 40), data: Buffer.alloc(0), imports: [] };
  }
  if (h.problem) return { path: file, sha256, elf: true, header: h.header, data: Buffer.alloc(0), imports: [], problem: h.problem };
  const s = await tool('readelf', ['-S', '-W', file]);
  if (s.exitCode !== 0) return { path: file, sha256, elf: true, data: Buffer.alloc(0), imports: [], problem: `readelf -S cannot read it: ${String(s.stderr).trim().split('\n')[0]}` };
  const bytes = readFileSync(file);
  const parts = parseSections(String(s.stdout))
    .filter((x) => x.type === 'PROGBITS' && /^\.(rodata|data)/.test(x.name) && x.offset + x.size <= bytes.length)
    .flatMap((x) => [bytes.subarray(x.offset, x.offset + x.size), Buffer.alloc(1)]);
  const nm = await tool('nm', ['--defined-only', file]);
  const stripped = nm.exitCode !== 0 || /no symbols/.test(String(nm.stderr));
  const dyn = await tool('nm', ['-D', '--undefined-only', file]);
  return {
    path: file,
    sha256,
    elf: true,
    header: h.header,
    data: Buffer.concat(parts),
    symbols: stripped ? undefined : parseNm(String(nm.stdout)),
    imports: dyn.exitCode === 0 ? parseNm(String(dyn.stdout)) : [],
  };
}

// What protections a binary carries, read from the ELF itself (binutils' readelf and nm, and its
// bytes): the checks behind the profile's "hardening" (src/hardening.ts) in verify.
//   stack-protector  imports __stack_chk_fail (-fstack-protector-strong calls it when a canary dies)
//   fortify          imports __*_chk (the checked libc calls _FORTIFY_SOURCE substitutes)
//   stack-clash      stack probes in the code: `orq $0x0,(%rsp)` (48 83 0c 24 00), what GCC's
//                    -fstack-clash-protection emits for every page of a large frame (the pattern
//                    Debian's hardening-check looks for in objdump -d), not `lock orq` (a barrier)
//   cet              the fraction of function entries (FUNC symbols of the symbol table, one per
//                    address) whose first bytes are endbr64 (f3 0f 1e fa): -fcf-protection puts one
//                    at every function that can be called indirectly
//   pie              ELF type DYN with an interpreter (DF_1_PIE when the linker says so)
//   relro            a PT_GNU_RELRO segment;  bindnow: DT_FLAGS BIND_NOW or DT_FLAGS_1 NOW
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { MissingToolError } from './errors.ts';
import { PROTECTIONS, SPECS, type Protection } from './hardening.ts';

/** -fcf-protection's share of function entries that must start with endbr64 (the rest: never called indirectly) */
export const ENDBR_MIN = 0.8;
const ENDBR64 = Buffer.from([0xf3, 0x0f, 0x1e, 0xfa]);
const STACK_PROBE = Buffer.from([0x48, 0x83, 0x0c, 0x24, 0x00]);

export interface Finding {
  /** undefined: cannot be told from this file (a stripped binary has no function table; format is compile-time only) */
  found: boolean | undefined;
  /** what was seen, for the report */
  evidence: string;
}

export interface ElfHardening {
  functions?: { total: number; endbr64: number };
  stackProbes: number;
  chkImports: string[];
  findings: Record<Protection, Finding>;
}

interface Section {
  name: string;
  addr: number;
  offset: number;
  size: number;
  flags: string;
}

/** Section headers from `readelf -S -W`: name, address, file offset, size, flags. */
export function parseSectionTable(text: string): Section[] {
  const out: Section[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+\s+\d+\s+\d+\s*$/.exec(line);
    if (m && m[2] !== 'NOBITS') out.push({ name: m[1]!, addr: parseInt(m[3]!, 16), offset: parseInt(m[4]!, 16), size: parseInt(m[5]!, 16), flags: m[6]! });
  }
  return out;
}

/** Addresses of the defined functions of `readelf -s -W`'s .symtab (not .dynsym), each once. */
export function functionAddresses(text: string): number[] {
  const out = new Set<number>();
  let inSymtab = false;
  for (const line of text.split('\n')) {
    const t = /^Symbol table '([^']+)'/.exec(line);
    if (t) {
      inSymtab = t[1] === '.symtab';
      continue;
    }
    if (!inSymtab) continue;
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+(\d+)\s+FUNC\s+\S+\s+\S+\s+(\d+)\s/.exec(line);
    if (m && Number(m[2]) > 0) out.add(parseInt(m[1]!, 16));
  }
  return [...out];
}

/** Stack probes in code: `orq $0x0,(%rsp)` not preceded by a lock prefix (f0: that is a memory barrier, atomic_thread_fence). */
function probesIn(code: Buffer): number {
  let n = 0;
  for (let i = code.indexOf(STACK_PROBE); i >= 0; i = code.indexOf(STACK_PROBE, i + 1)) if (i === 0 || code[i - 1] !== 0xf0) n++;
  return n;
}

async function tool(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await execa(cmd, args, { reject: false, maxBuffer: 1024 * 1024 * 1024, timeout: 120_000 });
    return r.exitCode === 0 ? String(r.stdout) : '';
  } catch (e) {
    throw new MissingToolError(cmd, 'verify: reading the binary\'s protections (binutils)', (e as Error).message);
  }
}

/** The protections of one ELF binary (x86_64 or another machine: cet only means endbr64 on x86_64). */
export async function elfHardening(file: string): Promise<ElfHardening> {
  const bytes = readFileSync(file);
  const [header, programs, dynamic, sectionsText, symbols, imports] = await Promise.all([
    tool('readelf', ['-h', '-W', file]),
    tool('readelf', ['-l', '-W', file]),
    tool('readelf', ['-d', '-W', file]),
    tool('readelf', ['-S', '-W', file]),
    tool('readelf', ['-s', '-W', file]),
    tool('nm', ['-D', '--undefined-only', file]),
  ]);
  const sections = parseSectionTable(sectionsText);
  const code = sections.filter((s) => s.flags.includes('X') && s.offset + s.size <= bytes.length);
  const stackProbes = code.reduce((n, s) => n + probesIn(bytes.subarray(s.offset, s.offset + s.size)), 0);

  const addrs = functionAddresses(symbols);
  let functions: ElfHardening['functions'];
  if (addrs.length) {
    let endbr = 0;
    for (const a of addrs) {
      const s = code.find((x) => a >= x.addr && a < x.addr + x.size);
      const off = s ? s.offset + (a - s.addr) : -1;
      if (off >= 0 && bytes.subarray(off, off + 4).equals(ENDBR64)) endbr++;
    }
    functions = { total: addrs.length, endbr64: endbr };
  }
  const names = imports.split('\n').map((l) => /\bU\s+(\S+)/.exec(l)?.[1]?.replace(/@.*$/, '')).filter((x): x is string => Boolean(x));
  const chkImports = names.filter((n) => /^__\w+_chk$/.test(n) && n !== '__stack_chk_fail').sort();
  const flags = /\(FLAGS\)\s+(.*)/.exec(dynamic)?.[1] ?? '';
  const flags1 = /\(FLAGS_1\)\s+Flags:\s+(.*)/.exec(dynamic)?.[1] ?? '';
  const dyn = /Type:\s+DYN/.test(header);
  const interp = /\bINTERP\b/.test(programs);
  const x86 = /Machine:\s+Advanced Micro Devices X86-64/.test(header);
  const pct = functions ? (100 * functions.endbr64) / functions.total : 0;

  const findings: Record<Protection, Finding> = {
    'stack-protector': names.includes('__stack_chk_fail') ? { found: true, evidence: 'imports __stack_chk_fail' } : { found: false, evidence: 'no __stack_chk_fail import' },
    fortify: chkImports.length ? { found: true, evidence: `imports ${chkImports.length} __*_chk functions (${chkImports.slice(0, 4).join(', ')}${chkImports.length > 4 ? ', …' : ''})` } : { found: false, evidence: 'no __*_chk import' },
    // the probe pattern is x86-64's; GCC probes other machines with other instructions (AArch64:
    // stores of xzr below sp), not looked for here: there it cannot be told from the code
    'stack-clash': !x86
      ? { found: undefined, evidence: 'not an x86-64 binary: the stack probe checked is x86-64\'s (orq $0x0,(%rsp))' }
      : stackProbes > 0 ? { found: true, evidence: `${stackProbes} stack probes (orq $0x0,(%rsp))` } : { found: false, evidence: 'no stack probe (orq $0x0,(%rsp)) in the code' },
    cet: !x86
      ? { found: undefined, evidence: 'not an x86-64 binary: endbr64 does not apply' }
      : !functions
        ? { found: undefined, evidence: 'cannot tell: no symbol table (stripped); verify the unstripped binary' }
        : { found: functions.endbr64 / functions.total >= ENDBR_MIN, evidence: `${functions.endbr64} of ${functions.total} functions (${pct.toFixed(1)}%) start with endbr64 (at least ${ENDBR_MIN * 100}% expected)` },
    format: { found: undefined, evidence: `compile-time only (${SPECS.format.cflags.join(' ')}): not visible in the binary` },
    pie: dyn && interp ? { found: true, evidence: `ELF type DYN with an interpreter${/\bPIE\b/.test(flags1) ? ', DF_1_PIE' : ''}` } : { found: false, evidence: dyn ? 'a shared object without an interpreter' : 'ELF type EXEC: a fixed load address' },
    relro: /\bGNU_RELRO\b/.test(programs) ? { found: true, evidence: 'PT_GNU_RELRO segment' } : { found: false, evidence: 'no PT_GNU_RELRO segment' },
    bindnow: /\bBIND_NOW\b/.test(flags) || /\bNOW\b/.test(flags1) ? { found: true, evidence: `DT_FLAGS ${flags.trim() || '-'} / DT_FLAGS_1 ${flags1.trim() || '-'}` } : { found: false, evidence: 'neither DT_FLAGS BIND_NOW nor DT_FLAGS_1 NOW' },
  };
  return { functions, stackProbes, chkImports, findings };
}

/**
 * verify's checks of the protections, one per protection: a failure when the profile asks for it
 * (`asked`) and the binary lacks it; the evidence either way (what it found, or that it cannot tell).
 */
export function hardeningChecks(findings: Record<Protection, Finding>, asked: readonly Protection[]): { check: string; ok: boolean; expected: string; actual: string }[] {
  return PROTECTIONS.map((p) => {
    const f = findings[p];
    const wanted = asked.includes(p);
    const state = f.found === undefined ? 'not checkable' : f.found ? 'found' : 'absent';
    return {
      check: `hardening: ${p} (${SPECS[p].what})`,
      ok: !wanted || f.found !== false,
      expected: wanted ? 'present (the profile\'s "hardening" asks for it)' : 'not asked for by the profile',
      actual: `${state}: ${f.evidence}`,
    };
  });
}

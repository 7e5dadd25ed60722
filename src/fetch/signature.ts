// OpenPGP detached-signature check with gpgv, against a keyring shipped in recipes/keys/ and a
// pinned list of fingerprints. gpgv's machine-readable status lines (--status-fd 1) decide:
// the signature must be good (GOODSIG + VALIDSIG) and VALIDSIG must name a pinned fingerprint
// (either the signing subkey or its primary key).
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { execa } from 'execa';
import { FetchError, MissingToolError } from '../errors.ts';

/** CRC-24 as used by OpenPGP ASCII armor (RFC 4880 section 6.1). */
function crc24(data: Buffer): number {
  let crc = 0xb704ce;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/**
 * Decode every ASCII-armored block of a file into binary OpenPGP packets (what `gpg --dearmor`
 * does), so no gpg is needed besides gpgv. A binary keyring is returned unchanged.
 */
export function dearmor(text: Buffer, name: string): Buffer {
  const s = text.toString('latin1');
  if (!s.includes('-----BEGIN PGP')) return text;
  const out: Buffer[] = [];
  const re = /-----BEGIN PGP ([A-Z ,/0-9]+)-----\r?\n([\s\S]*?)-----END PGP \1-----/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const lines = m[2]!.split(/\r?\n/);
    // armor headers ("Version: ...", "Comment: ...") end at the first empty line
    let i = 0;
    if (lines.some((l) => l.trim() === '')) {
      while (i < lines.length && lines[i]!.trim() !== '') {
        if (!/^[A-Za-z-]+: /.test(lines[i]!)) break;
        i++;
      }
      if (i < lines.length && lines[i]!.trim() === '') i++;
      else i = 0;
    }
    let b64 = '';
    let checksum: string | undefined;
    for (const l of lines.slice(i)) {
      const t = l.trim();
      if (!t) continue;
      if (/^=[A-Za-z0-9+/]{4}$/.test(t)) checksum = t.slice(1);
      else b64 += t;
    }
    const data = Buffer.from(b64, 'base64');
    if (checksum !== undefined) {
      const want = Buffer.from(checksum, 'base64');
      const got = crc24(data);
      if (want.length !== 3 || want.readUIntBE(0, 3) !== got) {
        throw new FetchError(`${name}: armor checksum mismatch; the key file is damaged`, { hint: 'restore the key file from the recipes repository' });
      }
    }
    out.push(data);
  }
  if (out.length === 0) throw new FetchError(`${name}: no OpenPGP armored block found`);
  return Buffer.concat(out);
}

export interface SignatureCheck {
  /** Fingerprint of the primary key that made the signature. */
  fingerprint: string;
  /** gpgv's status lines, for logs. */
  status: string[];
  /** Set when the key has expired since the signature was made (accepted, but worth a log line). */
  note?: string;
}

/**
 * Verify `file` against the detached signature `sig` with gpgv, using `keyringFile` (armored or
 * binary) and accepting only the pinned `fingerprints`. Throws FetchError or MissingToolError.
 */
export async function verifySignature(
  file: string,
  sig: string,
  keyringFile: string,
  fingerprints: string[],
  opts: { signal?: AbortSignal } = {},
): Promise<SignatureCheck> {
  let keyText: Buffer;
  try {
    keyText = await readFile(keyringFile);
  } catch (e) {
    throw new FetchError(`signature keyring ${keyringFile} cannot be read: ${(e as Error).message}`, {
      hint: 'the recipe\'s signature.keyring names a file in the recipes keys directory; add it there',
    });
  }
  const tmp = tempDir('gpgv');
  try {
    const keyring = path.join(tmp, 'keyring.gpg');
    await writeFile(keyring, dearmor(keyText, keyringFile));
    const r = await execa('gpgv', ['--homedir', tmp, '--status-fd', '1', '--keyring', keyring, sig, file], {
      reject: false,
      stdin: 'ignore',
      cancelSignal: opts.signal,
      env: { LC_ALL: 'C' },
    });
    if ((r as { code?: string }).code === 'ENOENT' || (r.exitCode === undefined && /ENOENT/.test(String(r.message)))) {
      throw new MissingToolError('gpgv', `checking the OpenPGP signature of ${path.basename(file)}`, 'install gpgv (Debian/Ubuntu: apt-get install gpgv), or run `nginx-forge doctor`');
    }
    const status = String(r.stdout ?? '')
      .split('\n')
      .filter((l) => l.startsWith('[GNUPG:] '))
      .map((l) => l.slice(9));
    const valid = status.filter((l) => l.startsWith('VALIDSIG '));
    const pinned = new Set(fingerprints.map((f) => f.toUpperCase()));
    // A key that has expired since is fine for a signature made while it was valid (release keys
    // expire and get extended; old releases stay signed): accept EXPKEYSIG only then.
    const keyExpired = status.map((l) => /^KEYEXPIRED (\d+)/.exec(l)?.[1]).filter(Boolean).map(Number);
    const madeBeforeExpiry = (v: string) => {
      const made = Number(v.split(' ')[3]);
      return keyExpired.length > 0 && Number.isFinite(made) && keyExpired.every((t) => made < t);
    };
    const bad = status.find(
      (l) => /^(BADSIG|ERRSIG|EXPSIG|REVKEYSIG|NO_PUBKEY) /.test(l) || (/^EXPKEYSIG /.test(l) && !valid.some(madeBeforeExpiry)),
    );
    for (const v of valid) {
      const f = v.split(' ');
      const signer = f[1]!.toUpperCase();
      const primary = (f[10] ?? f[1])!.toUpperCase();
      if (r.exitCode === 0 && !bad && (pinned.has(primary) || pinned.has(signer))) {
        const expired = status.some((l) => l.startsWith('EXPKEYSIG '));
        return { fingerprint: primary, status, ...(expired ? { note: `the key expired on ${new Date(Math.min(...keyExpired) * 1000).toISOString().slice(0, 10)}, after the signature was made (${f[2]})` } : {}) };
      }
    }
    const what = bad
      ? `gpgv says ${bad.split(' ')[0]}${/NO_PUBKEY|ERRSIG/.test(bad) ? ' (the signing key is not in the keyring)' : ''}`
      : valid.length
        ? `the signature is valid but was made by ${valid.map((v) => v.split(' ')[10] ?? v.split(' ')[1]).join(', ')}, which is not a pinned fingerprint`
        : `gpgv exited with ${r.exitCode}: ${String(r.stderr ?? '').trim().split('\n').slice(-3).join(' / ')}`;
    throw new FetchError(
      `OpenPGP signature check failed for ${path.basename(file)}: ${what}\n  signature: ${sig}\n  keyring:   ${keyringFile}\n  accepted:  ${fingerprints.join(', ')}`,
      { hint: 'do not use these sources; if the recipe changed on purpose, check its signature.keyring and signature.fingerprints' },
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// A release key that has expired since it signed a release (OpenSSL's did, in 2026-09) still
// vouches for that release: gpgv reports EXPKEYSIG + VALIDSIG, and the signature time is before the
// key's expiry. The real OpenSSL 3.5.7 signature is checked in the build; here gpg makes such a
// key and signature with --faked-system-time.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../src/fetch/signature.ts';
import { FetchError } from '../src/errors.ts';

describe('signature by a key that expired after signing', () => {
  let dir: string;
  let fpr: string;
  const now = Math.floor(Date.now() / 1000);
  const created = now - 3 * 86400;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nf-gpg-exp-'));
    const env = { GNUPGHOME: dir };
    const gpg = (args: string[], at: number) =>
      execa('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--faked-system-time', `${at}!`, ...args], { env });
    // valid for one day from three days ago: expired two days ago
    await gpg(['--quick-gen-key', 'expiring <exp@example.invalid>', 'ed25519', 'sign', '1d'], created);
    fpr = /^fpr:+([0-9A-F]{40}):/m.exec(String((await gpg(['--with-colons', '--fingerprint', 'exp@example.invalid'], created)).stdout))![1]!;
    await writeFile(path.join(dir, 'key.asc'), String((await gpg(['--armor', '--export', 'exp@example.invalid'], created)).stdout) + '\n');
    await writeFile(path.join(dir, 'data'), 'release bytes\n');
    await gpg(['--armor', '--local-user', 'exp@example.invalid', '--detach-sign', '--output', path.join(dir, 'data.asc'), path.join(dir, 'data')], created + 3600);
    await execa('gpgconf', ['--kill', 'gpg-agent'], { env, reject: false });
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is accepted, with a note saying when the key expired', async () => {
    const r = await verifySignature(path.join(dir, 'data'), path.join(dir, 'data.asc'), path.join(dir, 'key.asc'), [fpr]);
    expect(r.fingerprint).toBe(fpr);
    expect(r.status.some((l) => l.startsWith('EXPKEYSIG '))).toBe(true);
    expect(r.note).toMatch(/^the key expired on \d{4}-\d\d-\d\d, after the signature was made/);
  });

  it('still fails when the bytes differ', async () => {
    await writeFile(path.join(dir, 'tampered'), 'release bytes!\n');
    const e = await verifySignature(path.join(dir, 'tampered'), path.join(dir, 'data.asc'), path.join(dir, 'key.asc'), [fpr]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FetchError);
    expect((e as Error).message).toMatch(/BADSIG/);
    expect((await readFile(path.join(dir, 'data.asc'), 'utf8'))).toContain('BEGIN PGP SIGNATURE');
  });
});

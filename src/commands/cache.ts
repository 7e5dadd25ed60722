// nginx-forge cache …: the stage cache's remote side. `cache keygen --out PREFIX` makes the key
// pair that signs entries pushed to a registry (the format: src/remote/sign.ts).
import { closeSync, existsSync, fchmodSync, lstatSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import { generateKeyPair, keyHint } from '../remote/sign.ts';

/** Create `file` with `text`, never replacing one (O_EXCL), readable by its owner only when `mode` says so. */
function writeNew(file: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw exists(file);
    throw e;
  }
  try {
    fchmodSync(fd, mode); // the umask may have taken bits away, never adds any: this is the mode asked for
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

const exists = (file: string) =>
  new UsageError(`${file} already exists: refusing to overwrite a key`, 'choose another --out prefix, or move the old key pair away first (entries it signed verify only with its .pub)');

function present(file: string): boolean {
  try {
    lstatSync(file); // a dangling symlink counts: writing through it would create its target
    return true;
  } catch {
    return false;
  }
}

export async function keygen(flags: { out: string }): Promise<number> {
  const prefix = flags.out;
  if (!prefix || prefix.endsWith('/')) throw new UsageError(`--out ${JSON.stringify(prefix)}: expected a file prefix such as keys/cache (writes keys/cache.key and keys/cache.pub)`);
  const keyFile = `${prefix}.key`;
  const pubFile = `${prefix}.pub`;
  const dir = path.dirname(path.resolve(keyFile));
  if (!existsSync(dir)) throw new UsageError(`--out ${prefix}: the directory ${dir} does not exist`, `create it first (mkdir -p ${dir})`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${prefix}: ${dir} is not a directory`);
  for (const f of [keyFile, pubFile]) if (present(f)) throw exists(f);

  const { privatePem, publicPem } = generateKeyPair();
  writeNew(keyFile, privatePem, 0o600);
  try {
    writeNew(pubFile, publicPem, 0o644);
  } catch (e) {
    rmSync(keyFile, { force: true }); // no private key without its public half
    throw e;
  }
  process.stderr.write(`wrote ${keyFile} (private: keep it secret, mode 0600) and ${pubFile} (ECDSA P-256, key id ${keyHint(publicPem)})\n`);
  return 0;
}

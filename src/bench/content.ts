// The files the benchmark serves, generated deterministically so both binaries and every rerun
// serve the same bytes.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/** A small deterministic PRNG (xorshift32): same seed, same text on every machine. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS = (
  'the of and to in is that for it as with was on be by at this from or have an are not but which ' +
  'server client request response header body cache static file gzip compress deflate stream buffer ' +
  'kernel socket sendfile record cipher handshake session ticket certificate curve worker process ' +
  'connection keepalive upstream location root index error access log timeout limit rate burst zone'
).split(' ');

/**
 * Compressible text, like HTML or JSON served in practice: words drawn from a small vocabulary,
 * lines of varying length. gzip level 6 shrinks it to roughly a third.
 */
export function compressibleText(bytes: number, seed = 0x6e67696e): Buffer {
  const next = xorshift32(seed);
  const parts: string[] = [];
  let len = 0;
  let line = 0;
  while (len < bytes) {
    const w = WORDS[next() % WORDS.length]!;
    line += w.length + 1;
    const sep = line > 60 + (next() % 40) ? '\n' : ' ';
    if (sep === '\n') line = 0;
    parts.push(w, sep);
    len += w.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** A small HTML page of our own, about the size of a typical default index page (615 bytes, as the docs state). */
export const SMALL_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nginx-forge benchmark page.</title>
<style>
body { max-width: 40em; margin: 2em auto; font-family: sans-serif; line-height: 1.4; }
</style>
</head>
<body>
<h1>nginx-forge benchmark page</h1>
<p>This page is served by the small-static workload of <code>nginx-forge bench serve</code>.
Its size is close to that of the index page a fresh nginx installation serves, so the
numbers describe a realistic small response: headers and a few hundred bytes of body,
sent over a kept-alive connection, many thousands of times a second!</p>
</body>
</html>
`;

export interface Docroot {
  dir: string;
  big: { path: string; url: string; bytes: number };
  text: { path: string; url: string; bytes: number; sha256: string };
  small: { path: string; url: string; bytes: number };
}

/**
 * Write the docroot: big.bin (the large download; real bytes, not a sparse file, so reading it
 * exercises the page cache), gz/text.txt (compressible), small.html.
 */
export function writeDocroot(dir: string, bigBytes: number, textBytes: number): Docroot {
  mkdirSync(path.join(dir, 'gz'), { recursive: true });
  const bigPath = path.join(dir, 'big.bin');
  const block = randomBytes(1 << 20);
  const fd = openSync(bigPath, 'w', 0o644);
  try {
    for (let left = bigBytes; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(left, block.length));
  } finally {
    closeSync(fd);
  }
  const text = compressibleText(textBytes);
  const textPath = path.join(dir, 'gz', 'text.txt');
  writeFileSync(textPath, text, { mode: 0o644 });
  const smallPath = path.join(dir, 'small.html');
  writeFileSync(smallPath, SMALL_HTML, { mode: 0o644 });
  return {
    dir,
    big: { path: bigPath, url: '/big.bin', bytes: bigBytes },
    text: { path: textPath, url: '/gz/text.txt', bytes: textBytes, sha256: createHash('sha256').update(text).digest('hex') },
    small: { path: smallPath, url: '/small.html', bytes: Buffer.byteLength(SMALL_HTML) },
  };
}

/** Read a file once so it sits in the page cache (the article: "a file that fits in the disk cache"). */
export function warmPageCache(file: string): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    while (readSync(fd, buf) > 0) {
      /* just reading */
    }
  } finally {
    closeSync(fd);
  }
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

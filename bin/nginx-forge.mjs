#!/usr/bin/env node
// Entry point. Runs the compiled JavaScript in lib/ (built from src/ by `npm run build`, which
// `npm ci` runs), so a command starts without transpiling. When lib/ is missing or older than any
// file in src/ (a source checkout being edited), it runs the TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'lib', 'cli.js');

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function useCompiled() {
  if (process.env.NGINX_FORGE_TSX === '1' || !existsSync(compiled)) return false;
  const src = path.join(root, 'src');
  return !existsSync(src) || newestMtime(src) <= statSync(compiled).mtimeMs;
}

let main;
if (useCompiled()) {
  ({ main } = await import(compiled));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv);

#!/usr/bin/env node
// Entry point: runs the TypeScript sources directly through tsx (no separate compile step,
// so a fresh clone works right after `npm ci`).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv);

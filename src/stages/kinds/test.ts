// test: nginx's own test suite (nginx-tests, pinned) against the production binary.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { server, stageId } from '../../plan.ts';
import { testStage, type TestStageInputs } from '../test.ts';
import { binaryIn, installRoot, type Implement } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx) {
    const plan = b.plan;
    const binary = binaryIn(installRoot(ctx, stageId('install', server(plan).name)), plan);
    return testStage(binary, plan, ctx.stage.keyInputs.inputs as TestStageInputs, {
      fetch: b.fetch,
      jobs: Math.min(Math.max(b.jobs, 1), 64),
      logsDir: path.join(path.dirname(ctx.log), 'test'),
      signal: ctx.signal,
      onLog: (l) => {
        appendFileSync(ctx.log, `${l}\n`);
        ctx.update(l);
      },
    });
  },
});

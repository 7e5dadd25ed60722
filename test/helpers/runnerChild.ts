// Run a fake three-stage graph in a separate process, for the runner's kill -9 test:
//   node --import tsx test/helpers/runnerChild.ts <cacheDir> <markerDir>
// Stage "a" finishes at once; stage "b" writes <markerDir>/b-started and then waits forever.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { StageCache } from '../../src/cache/index.ts';
import { runGraph } from '../../src/pipeline/runner.ts';
import { fakeStages } from './fakeStages.ts';

const [cacheDir, markers] = process.argv.slice(2) as [string, string];
const { stages, modeOf, implOf } = fakeStages({
  a: async (ctx) => writeFileSync(path.join(ctx.out, 'a.txt'), 'a'),
  b: async () => {
    writeFileSync(path.join(markers, 'b-started'), '');
    await new Promise(() => undefined);
  },
});
await runGraph(stages, modeOf, implOf, new StageCache(cacheDir), { targets: ['c'], slots: 1, logFor: (id) => path.join(markers, `${id}.log`) });

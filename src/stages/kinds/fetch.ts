// fetch:<component>: the component's archive (one of its pinned artifacts) and its patch sets,
// from the content-addressed store or downloaded into it and verified.
import { fetchArtifact, fetchOneOf, type FetchOptions } from '../../fetch/index.ts';
import { componentOf, type Fetched, type Implement } from './common.ts';

export const implement: Implement = (b) => ({
  async run(ctx): Promise<Fetched> {
    const c = componentOf(b, ctx);
    const opts: FetchOptions = {
      ...b.fetch,
      signal: ctx.signal,
      onLog: (l) => ctx.update(l),
      onProgress: (e) => ctx.update(`${e.file} ${(e.received / 1e6).toFixed(1)}${e.total ? `/${(e.total / 1e6).toFixed(1)}` : ''} MB`),
    };
    const { artifact, path: file } = await fetchOneOf(c.artifacts, opts);
    const patchSets: Record<string, string> = {};
    for (const s of b.plan.patchSets.filter((x) => x.component === c.name)) patchSets[s.name] = await fetchArtifact(s.artifact, opts);
    return { artifact, path: file, patchSets };
  },
});

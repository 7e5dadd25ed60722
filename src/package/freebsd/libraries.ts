// pre-configure: libraries nginx's own make cannot build from a --with-*= source tree are built
// before configure, with the same generic builder commands the pipeline runs (recipes' "build"),
// installed in place (zlib-ng and jemalloc built static, as the Linux build does). A version whose
// archive has no configure (recipe versions.<v>.bootstrap) writes its files and runs its tool first;
// makefile.ts adds USES=autoreconf:build for it.
import path from 'node:path';
import { UsageError } from '../../errors.ts';
import type { BuildPlan } from '../../plan.ts';
import { copiedOutputs, libraryCommands } from '../../recipes/commands.ts';
import { envNameProblem } from '../../recipes/safe.ts';
import { checkArg, quoteArg } from './make.ts';

export function preConfigureRule(plan: BuildPlan): string[] {
  const mk: string[] = [];
  const separate = plan.components.filter((c) => c.role !== 'server' && c.consume?.placement === 'deps');
  mk.push('pre-configure:');
  for (const c of separate) {
    mk.push(`# ${c.displayName} ${c.version}: ${c.build!.system} build from the recipe, installed into \${WRKDIR}/${c.layout}`);
    const src = `\${WRKDIR}/${c.topdir}`;
    const tool: Record<string, string> = { make: '${GMAKE}', cmake: '${CMAKE_BIN}' };
    const cmds = libraryCommands(c, { prefix: `\${WRKDIR}/${c.layout}`, jobs: ['-j${MAKE_JOBS_NUMBER}'], make: tool.make, cmake: tool.cmake, cmakeDir: 'build-port' });
    for (const cmd of cmds) {
      // a bootstrap's one-line files (recipe versions.<v>.bootstrap.files), written before its tool runs
      for (const [f, text] of Object.entries(cmd.files ?? {})) mk.push(`\t\${ECHO_CMD} ${quoteArg(text.replace(/\n$/, ''))} > ${src}/${checkArg(f)}`);
      const env = Object.entries(cmd.env).map(([k, v]) => {
        const bad = envNameProblem(k);
        if (bad) throw new UsageError(`cannot put ${c.name}'s build.env into a port Makefile: ${bad}`, 'build.env keys are shell identifiers: letters, digits and "_"');
        return v === null ? `-u ${k}` : `${k}="${checkArg(v)}"`;
      });
      // our own make variables (${WRKDIR}, ${MAKE_JOBS_NUMBER}) stay; recipe text is checked
      const args = cmd.args.map((a) => (a.includes('${WRKDIR}/') || a === '-j${MAKE_JOBS_NUMBER}' ? a : quoteArg(a)));
      const portEnv = cmd.step === 'configure' ? '${CONFIGURE_ENV}' : '${MAKE_ENV}';
      mk.push(`\tcd ${src} && \${SETENV} ${portEnv}${env.length ? ` ${env.join(' ')}` : ''} ${[cmd.cmd, ...args].join(' ')}`);
    }
    for (const f of copiedOutputs(c)) {
      const to = `\${WRKDIR}/${c.layout}/${path.posix.dirname(f)}`;
      mk.push(`\t\${MKDIR} ${to} && \${CP} -R ${src}/${checkArg(f)} ${to}/`);
    }
  }
  mk.push('');
  return mk;
}

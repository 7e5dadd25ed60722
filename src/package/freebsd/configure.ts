// CONFIGURE_ARGS (and PINNED_SSL_CONFIGURE_ON): install paths from plan.install moved to hier(7);
// modules and library arguments from the plan; compiler flags are the user's (CFLAGS/LDFLAGS)
// plus what the libraries need.
import { tlsLibrary, type BuildPlan } from '../../plan.ts';
import { fillConsume } from '../../recipes/consume.ts';
import { checkArg, quoteArg } from './make.ts';

export function portConfigureArgs(
  plan: BuildPlan,
  paths: Record<string, string>,
  modOpts: { isModuleArg: (a: string) => boolean },
): { configure: string[]; tlsArgs: string[] } {
  const configure: string[] = Object.entries(paths).map(([k, v]) => `--${k}=${v}`);
  const tls = tlsLibrary(plan);
  const tlsArgs: string[] = [];
  const libs = plan.components.filter((c) => c.role !== 'server' && c.consume);
  for (const a of plan.configureArgs) {
    if (modOpts.isModuleArg(a)) continue; // module OPTIONS (modules.ts)
    if (/^--([a-z-]+-path|prefix)=/.test(a) || a.startsWith('--with-cc-opt=') || a.startsWith('--with-ld-opt=') || a === '--with-debug') continue;
    if (tls && tls.consume?.configureArgs.some((t) => fillConsume(t, tls) === a)) {
      tlsArgs.push(a.startsWith('--with-openssl-opt=') ? '--with-openssl-opt="${OPENSSL_OPTIONS}"' : quoteArg(a));
      continue;
    }
    configure.push(quoteArg(a));
  }
  const ccOpt = libs.flatMap((c) => c.consume!.ccOpt.map((t) => checkArg(fillConsume(t, c))));
  const ldOpt = libs.flatMap((c) => c.consume!.ldOpt.map((t) => checkArg(fillConsume(t, c))));
  configure.push(`--with-cc-opt="\${CFLAGS}${ccOpt.length ? ` ${ccOpt.join(' ')}` : ''}"`, `--with-ld-opt="\${LDFLAGS}${ldOpt.length ? ` ${ldOpt.join(' ')}` : ''}"`);
  configure.push('--user=www', '--group=www');
  return { configure, tlsArgs };
}

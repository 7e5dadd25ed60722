// files/*.in: the production configuration (src/conf/nginx.ts) with FreeBSD's paths and user, and
// the configuration files nginx's own `make install` writes, which the port keeps as @sample files.
import path from 'node:path';
import { confInput, shippedConf } from '../../conf/nginx.ts';
import type { BuildPlan } from '../../plan.ts';

/** nginx's stock configuration files the port installs as @sample files (nginx.conf is replaced by the production one). */
export const SAMPLE_CONF = ['fastcgi.conf', 'fastcgi_params', 'mime.types', 'scgi_params', 'uwsgi_params'].sort();
/** nginx's stock files installed as they are. */
export const PLAIN_CONF = ['koi-utf', 'koi-win', 'win-utf'];

export type PortConfiguration = ReturnType<typeof portConfiguration>;

/**
 * The production configuration (src/conf/nginx.ts) with FreeBSD's paths and user: SUB_FILES templates
 * (%%PREFIX%% filled by the framework), each installed as a @sample file.
 */
export function portConfiguration(plan: BuildPlan, paths: Record<string, string>): {
  templates: Record<string, { rel: string; text: string }>;
  symlinks: Record<string, string>;
  dirs: string[];
} {
  const sub = (p: string) => p.replaceAll('${PREFIX}', '%%PREFIX%%');
  const i = plan.install;
  const conf = sub(paths['conf-path']!);
  const install = {
    ...i,
    prefix: sub(paths.prefix!),
    sbin: sub(paths['sbin-path']!),
    conf,
    confDir: path.posix.dirname(conf),
    modules: sub(paths['modules-path']!),
    errorLog: sub(paths['error-log-path']!),
    accessLog: sub(paths['http-log-path']!),
    pid: sub(paths['pid-path']!),
    lock: sub(paths['lock-path']!),
    html: `${sub(paths.prefix!)}/html`,
    user: 'www',
    group: 'www',
  };
  const shipped = shippedConf({ ...confInput(plan), install });
  const templates: Record<string, { rel: string; text: string }> = {};
  for (const [rel, text] of Object.entries(shipped.files)) {
    // flat names in files/ (SUB_FILES): "sites-available/default" -> "default", "conf.d/ktls.conf" -> "ktls.conf"
    templates[path.posix.basename(rel)] = { rel, text: text.replaceAll('systemctl reload nginx', 'service nginx reload') };
  }
  return { templates, symlinks: shipped.symlinks, dirs: shipped.dirs };
}

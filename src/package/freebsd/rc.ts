// files/nginx.in (USE_RC_SUBR): the rc.d script; %%PREFIX%%, %%PIDFILE%% and %%CONFFILE%% are
// filled by the framework (SUB_LIST).
import type { BuildPlan } from '../../plan.ts';

export function portRcScript(plan: BuildPlan): string {
  const rc = [
    '#!/bin/sh',
    '',
    '# PROVIDE: nginx',
    '# REQUIRE: LOGIN cleanvar',
    '# KEYWORD: shutdown',
    '#',
    '# Add to /etc/rc.conf to start nginx at boot:',
    '#   nginx_enable="YES"',
    '',
    '. /etc/rc.subr',
    '',
    'name=nginx',
    'rcvar=nginx_enable',
    '',
    'load_rc_config $name',
    '',
    ': ${nginx_enable:="NO"}',
    '',
    'command="%%PREFIX%%/sbin/nginx"',
    'pidfile="%%PIDFILE%%"',
    'required_files="%%CONFFILE%%"',
    'extra_commands="reload configtest"',
    'start_precmd="nginx_checkconfig"',
    'reload_precmd="nginx_checkconfig"',
    'configtest_cmd="nginx_checkconfig"',
    'sig_reload="HUP"',
    '',
    'nginx_checkconfig()',
    '{',
    '\t${command} -t -q || return 1',
    ...(plan.ktls
      ? [
          '\tif [ "$(sysctl -n kern.ipc.tls.enable 2>/dev/null)" != 1 ]; then',
          '\t\twarn "kern.ipc.tls.enable is not 1: TLS stays in userspace (sysctl kern.ipc.tls.enable=1)"',
          '\tfi',
        ]
      : []),
    '}',
    '',
    'run_rc_command "$1"',
    '',
  ];
  return rc.join('\n');
}

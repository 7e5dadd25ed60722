// files/pkg-message.in (a SUB_FILES template): shown by pkg after install; how to enable the
// service, how sites and dynamic modules are enabled and disabled, and with KTLS what the kernel needs.
import type { BuildPlan } from '../../plan.ts';
import { dynamicModules, moduleLink } from '../modules.ts';

export function portMessage(plan: BuildPlan): string {
  const ktlsNote = plan.ktls
    ? [
        'Kernel TLS (KTLS option): ktls(4) must be enabled before nginx starts:',
        '  sysctl kern.ipc.tls.enable=1            (persist it in /etc/sysctl.conf)',
        '  kldload ktls_ocf                        (only where /boot/kernel/ktls_ocf.ko',
        '                                           exists; newer kernels have it built in)',
        'The configuration turns it on for every TLS server in',
        '  %%PREFIX%%/etc/nginx/conf.d/ktls.conf (ssl_conf_command Options KTLS; sendfile on;)',
        'and sites-available/example-tls shows a TLS server the kernel can offload.',
      ]
    : [];
  const conf = '%%PREFIX%%/etc/nginx';
  const mods = dynamicModules(plan).map((m) => moduleLink(m).link.split('/').pop()!);
  const sites = [
    'Sites: a server in sites-available/ is enabled by a link in sites-enabled/. A first',
    'install links the default site; remove the link to disable it (an upgrade or',
    'reinstall keeps it removed):',
    `  rm ${conf}/sites-enabled/default`,
    ...(mods.length
      ? [
          '',
          'Dynamic modules (port options) are loaded by their link in modules-enabled/, made on',
          'a first install; an upgrade or reinstall keeps a removed link removed:',
          ...mods.flatMap((l) => [
            `  disable: rm ${conf}/modules-enabled/${l}`,
            `  enable:  ln -s %%PREFIX%%/share/nginx/modules-available/${l.replace(/^50-/, '')} \\`,
            `             ${conf}/modules-enabled/${l}`,
          ]),
        ]
      : []),
    'then: service nginx configtest && service nginx reload',
  ];
  const message = [
    '[',
    '{ type: install',
    '  message: <<EOM',
    `nginx (nginx-forge profile ${plan.profile}) is installed.`,
    '',
    'Configuration: %%CONFFILE%%. Enable the service with',
    '  sysrc nginx_enable=YES && service nginx start',
    '',
    ...sites,
    ...(ktlsNote.length ? ['', ...ktlsNote] : []),
    'EOM',
    '}',
    ']',
  ];
  return `${message.join('\n')}\n`;
}

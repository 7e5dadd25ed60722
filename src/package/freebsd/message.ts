// files/pkg-message.in (a SUB_FILES template): shown by pkg after install; how to enable the
// service, and with KTLS what the kernel needs.
import type { BuildPlan } from '../../plan.ts';

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
  const message = [
    '[',
    '{ type: install',
    '  message: <<EOM',
    `nginx (nginx-forge profile ${plan.profile}) is installed.`,
    '',
    'Configuration: %%CONFFILE%%. Enable the service with',
    '  sysrc nginx_enable=YES && service nginx start',
    ...(ktlsNote.length ? ['', ...ktlsNote] : []),
    'EOM',
    '}',
    ']',
  ];
  return `${message.join('\n')}\n`;
}

// The VM's /init (busybox sh). PID 1 stays in the initramfs, so the kernel's own request_module()
// (crypto-gcm(aes), ctr, ghash, ... when OpenSSL turns kTLS on) finds /sbin/modprobe and the
// modules; only a child chroots into the host root (9p, read-only) to run the probe script.
// Per-run parameters come from io/guest.env, so the initramfs itself stays cacheable.

export const IO_TAG = 'forgeio';
export const ROOT_TAG = 'hostroot';

/** Files the guest writes into the share: at its root, and per run in the run's io directory. */
export const GUEST_FILES = {
  env: 'guest.env',
  failed: 'guest-failed.txt',
  booted: 'guest-booted.txt',
  modprobeTls: 'modprobe-tls.txt',
  dmesg: 'dmesg.txt',
  // per run
  probeOut: 'probe-out.txt',
  probeExit: 'probe.exit',
  lsmod: 'lsmod.txt',
  /** per-run flag (test hook): the kernel cannot load modules during this run */
  blockModprobe: 'block-modprobe',
} as const;

export function renderInit(): string {
  return `#!/bin/sh
# nginx-forge smoke test VM init: PID 1 stays here
export PATH=/sbin:/bin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
say() { echo "nginx-forge-guest: $*"; }
off() { sync; poweroff -f; echo o > /proc/sysrq-trigger; sleep 5; }
fail() { say "FAILED: $*"; [ -d /share ] && echo "$*" > /share/${GUEST_FILES.failed}; off; }
say "kernel $(uname -r) up"
for m in virtio_pci 9pnet_virtio 9p; do modprobe $m 2>&1 || say "modprobe $m failed (built in?)"; done
mkdir -p /share /mnt/root
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 ${IO_TAG} /share || fail "cannot mount the results share (${IO_TAG})"
[ -f /share/${GUEST_FILES.env} ] || fail "no ${GUEST_FILES.env} in the results share"
. /share/${GUEST_FILES.env}
cat /proc/uptime > /share/${GUEST_FILES.booted}
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose ${ROOT_TAG} /mnt/root || fail "cannot mount the host root (${ROOT_TAG})"
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up || fail "cannot bring up lo"
# what a user does on a host: load kernel TLS (the crypto modules then come on demand)
modprobe tls > /share/${GUEST_FILES.modprobeTls} 2>&1
echo "exit=$?" >> /share/${GUEST_FILES.modprobeTls}
mount -t tmpfs -o mode=0755,size=75% scratch "/mnt/root$SCRATCH" || fail "cannot mount tmpfs on $SCRATCH"
mkdir -p "/mnt/root$SCRATCH/nginx-forge/share" "/mnt/root$SCRATCH/nginx-forge/work"
mount -o bind /share "/mnt/root$SCRATCH/nginx-forge/share" || fail "cannot bind the results share"
mount -t proc proc /mnt/root/proc || fail "cannot mount /proc in the chroot"
mount -t devtmpfs dev /mnt/root/dev || fail "cannot mount /dev in the chroot"
mount -t sysfs sys /mnt/root/sys 2>/dev/null
modprobe_path=$(cat /proc/sys/kernel/modprobe)
for run in $RUNS; do
  say "probe $run"
  if [ -f "/share/$run/${GUEST_FILES.blockModprobe}" ]; then echo /sbin/nginx-forge-no-modprobe > /proc/sys/kernel/modprobe; fi
  chroot /mnt/root /bin/sh "$SCRATCH/nginx-forge/share/$run/probe.sh" > "/share/$run/${GUEST_FILES.probeOut}" 2>&1
  echo $? > "/share/$run/${GUEST_FILES.probeExit}"
  echo "$modprobe_path" > /proc/sys/kernel/modprobe
  lsmod > "/share/$run/${GUEST_FILES.lsmod}" 2>&1
done
dmesg > /share/${GUEST_FILES.dmesg} 2>&1
say "done"
umount "/mnt/root$SCRATCH/nginx-forge/share" 2>/dev/null
umount /share 2>/dev/null
off
`;
}

/**
 * share/guest.env: the guest directory the scratch tmpfs goes on, and the runs (directories
 * relative to the share, each holding probe.sh) in the order they are run.
 */
export function renderGuestEnv(p: { scratch: string; runs: string[] }): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  for (const r of p.runs) if (!/^[A-Za-z0-9._/-]+$/.test(r)) throw new Error(`run directory "${r}" must be a plain relative path`);
  return `SCRATCH=${q(p.scratch)}\nRUNS=${q(p.runs.join(' '))}\n`;
}

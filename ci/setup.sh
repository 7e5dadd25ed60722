#!/usr/bin/env bash
# Installs everything nginx-forge and its test suite need on a fresh Debian/Ubuntu machine:
# the build toolchain, the smoke test's VM tools, benchmark tools, and the npm packages.
# Safe to run again: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# One package per line: what it is for.
APT_PACKAGES=(
  build-essential   # cc, make: compiling OpenSSL, PCRE2, jemalloc, nginx
  perl              # OpenSSL's Configure
  cmake             # zlib-ng
  autoconf          # jemalloc 5.3.1: configure generated from a git-tag archive
  patch             # applying patches
  xz-utils bzip2    # .tar.xz / .tar.bz2 sources
  gpgv              # detached signature checks
  linux-libc-dev    # linux/tls.h: OpenSSL's kTLS code
  ca-certificates
  curl              # smoke test client
  openssl           # smoke test certificates
  qemu-system-x86   # kTLS smoke test in a VM when the host kernel has no kTLS
  busybox-static    # the VM's initramfs
  cpio kmod         # initramfs packing, depmod for the VM's kernel modules
  ccache            # build --ccache (shared compile cache)
  wrk               # bench serve: HTTP load generator (loopback only)
  nginx             # bench serve: the distro's nginx to compare against (its service is never started)
  dpkg-dev          # package --format deb: dpkg-shlibdeps computes Depends
  jq                # CI templates: the plan hash for cache keys
  lintian           # tests: the .deb has no lintian errors
  debootstrap       # tests: the .deb installs with dpkg in a throwaway Debian root
  rpm               # package --format rpm: rpmbuild; tests: rpm --root installs it in a throwaway root
  rpmlint           # tests: the .rpm is rpmlint clean (filters with reasons in <pkg>.rpmlintrc)
  bmake             # tests: the FreeBSD port Makefile parses
  # nginx-forge test: nginx's own test suite (prove) and what its files use; a file whose module
  # or daemon is missing is skipped, so CI installs them all
  libtap-harness-archive-perl  # prove -a: the TAP archive nginx-forge test reads
  libio-socket-ssl-perl        # TLS test files (ssl*.t, h2_ssl*.t, proxy_ssl*.t)
  libnet-ssleay-perl           # TLS test files: sessions, ALPN, OCSP
  libprotocol-websocket-perl   # WebSocket proxy test files
  libcache-memcached-perl      # memcached*.t
  libfcgi-perl                 # fastcgi*.t
  libscgi-perl                 # scgi*.t
  libgd-perl                   # image_filter*.t
  libcryptx-perl               # h3_*.t, quic_*.t: the suite's QUIC client (Test::Nginx::HTTP3); smoke's HTTP/3 request
  memcached                    # memcached*.t start one (its service is never started)
  uwsgi-core                   # uwsgi*.t start one (the bare binary, no service)
  uwsgi-plugin-python3         # ... with a Python app
  util-linux                   # setpriv: the suite runs as nobody when started as root
  # remote stage cache (oci://) tests: a real registry on 127.0.0.1, never a service
  docker-registry   # tests: the distribution registry the remote cache pushes to and pulls from
  apache2-utils     # tests: htpasswd -B makes the registry's Basic auth file
  skopeo            # tests: an independent client reads back the manifest nginx-forge pushed
  devscripts        # tests: Debian's hardening-check on the built nginx (stack protector, fortify, stack clash)
  qemu-system-arm   # the smoke test of an arm64 build: its VM (qemu-system-aarch64, virt machine, TCG)
  gdb               # tests: a core dump of the packaged nginx reads with the -dbgsym package (gcore, bt)
)

# cross builds (build --target aarch64-linux-gnu) and the arm64 e2e test: on an amd64 machine
# only. An arm64 machine (GitHub's arm64 runners) builds arm64 natively, and Debian has no
# aarch64-linux-gnu cross compiler for arm64 (crossbuild-essential-arm64 is not installable there).
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  APT_PACKAGES+=(
    crossbuild-essential-arm64  # aarch64-linux-gnu-gcc, its binutils and the arm64 libc
    qemu-user-static            # qemu-aarch64-static: nginx's configure test programs, verify's nginx -V / -t
    libcrypt-dev:arm64          # the target's libcrypt (nginx's auth_basic links it); Debian has no cross package of it, only multiarch
  )
  # libcrypt-dev:arm64 is a multiarch package: dpkg must know the arm64 architecture first
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [ "$(id -u)" -eq 0 ]; then dpkg --add-architecture arm64; else sudo dpkg --add-architecture arm64; fi
  fi
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # packages with services (the distro's nginx) must not start them: policy-rc.d says no
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$own_policy" ] || $SUDO rm -f "$policy"
fi

# arm64 binaries in a chroot (the arm64 guest root of the smoke VM, the arm64 .deb's install root):
# binfmt_misc hands them to qemu-user-static, registered with the F flag (Debian's entry has it)
binfmt=/proc/sys/fs/binfmt_misc
if [ "$(id -u)" -eq 0 ] && [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
  [ -e "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || echo "setup: cannot mount binfmt_misc on $binfmt (arm64 chroots will say what they need)"
  if [ -e "$binfmt/register" ] && [ ! -e "$binfmt/qemu-aarch64" ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > "$binfmt/register" || echo "setup: cannot register qemu-aarch64 with binfmt_misc"
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# the compiled CLI (lib/): `npm ci` builds it (prepare); rebuild it when src/ changed since
if [ ! -f lib/cli.js ] || [ -n "$(find src -newer lib/cli.js -print -quit)" ]; then
  echo "setup: compiling the CLI (npm run build)"
  npm run build --silent
fi
echo "setup: ready"

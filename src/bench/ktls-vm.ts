// kTLS vs userspace TLS when the host kernel has no tls ULP: the article's experiment (repeated
// HTTPS downloads of a file in the page cache, same binary with `Options KTLS` and `Options -KTLS`,
// interleaved) run inside the smoke test's QEMU guest, through its runInVm(). QEMU runs under TCG
// emulation here, so these numbers say whether kTLS engages and how the two paths compare inside
// the emulator, never what they do on real hardware: they are labelled "emulated".
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NginxInfo } from './machine.ts';
import { renderConf } from './server.ts';
import { summarize } from './stats.ts';
import { compare, type KtlsSection, type ServeSettings, type WorkloadResult } from './workload.ts';

export const EMULATED_LABEL = 'emulated (QEMU TCG): not comparable to native';

export interface VmBenchSettings {
  bytes: number;
  downloads: number;
  timeoutSec: number;
}

export const VM_BENCH: VmBenchSettings = { bytes: 32 << 20, downloads: 5, timeoutSec: 480 };

const PORTS = { ktls: { tls: 8443, plain: 8081 }, userspace: { tls: 8444, plain: 8082 } } as const;

/** The guest script: start both servers, download interleaved, record /proc/net/tls_stat around each download. */
export function renderGuestBench(p: { nginx: string; work: string; io: string; bytes: number; downloads: number; cipher: string; maxSeconds: number; earlyErrorLog: boolean }): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const start = (side: 'ktls' | 'userspace') =>
    `${q(p.nginx)} -p ${q(`${p.work}/${side}/`)} -c ${q(`${p.io}/${side}.conf`)}${p.earlyErrorLog ? ` -e ${q(`${p.work}/${side}/error.log`)}` : ''} > ${q(`${p.io}/${side}.start.txt`)} 2>&1 &`;
  return `#!/bin/sh
# written by nginx-forge bench serve: kTLS vs userspace TLS inside the VM (${EMULATED_LABEL})
IO=${q(p.io)}
W=${q(p.work)}
R="$IO/ktls-results.txt"
: > "$R"
for s in ktls userspace; do
  for t in client_body proxy fastcgi uwsgi scgi; do mkdir -p "$W/$s/temp/$t"; done
done
mkdir -p "$W/www/gz"
chmod 755 "$W" "$W/www"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" \\
  -days 2 -subj /CN=localhost > "$IO/openssl.txt" 2>&1 || { echo "openssl failed" > "$IO/ktls-bench.failed"; exit 1; }
head -c ${p.bytes} /dev/urandom > "$W/www/big.bin"
cat "$W/www/big.bin" > /dev/null
${start('ktls')}
K=$!
${start('userspace')}
U=$!
i=0
until curl -ks -o /dev/null https://127.0.0.1:${PORTS.ktls.tls}/probe && curl -ks -o /dev/null https://127.0.0.1:${PORTS.userspace.tls}/probe; do
  i=$((i + 1))
  if [ $i -ge 120 ]; then echo "nginx did not start" > "$IO/ktls-bench.failed"; kill $K $U 2>/dev/null; exit 1; fi
  sleep 0.5
done
txsw() { awk '$1 == "TlsTxSw" { print $2; f = 1 } END { if (!f) print "-" }' /proc/net/tls_stat 2>/dev/null || echo -; }
cat /proc/net/tls_stat > "$IO/tls_stat.before" 2>&1
dl() {
  b=$(txsw)
  r=$(curl -k -s -S --http1.1 --max-time ${p.maxSeconds} --tls13-ciphers ${p.cipher} -o /dev/null \\
    -w '%{http_code} %{size_download} %{speed_download} %{time_total}' "https://127.0.0.1:$2/big.bin" 2>>"$IO/curl-errors.txt")
  a=$(txsw)
  echo "$1 $r $b $a" >> "$R"
}
# one unmeasured download each, then interleaved (A B, B A, ...)
dl warmup-ktls ${PORTS.ktls.tls}
dl warmup-userspace ${PORTS.userspace.tls}
n=0
while [ $n -lt ${p.downloads} ]; do
  if [ $((n % 2)) -eq 0 ]; then dl ktls ${PORTS.ktls.tls}; dl userspace ${PORTS.userspace.tls}
  else dl userspace ${PORTS.userspace.tls}; dl ktls ${PORTS.ktls.tls}; fi
  n=$((n + 1))
done
cat /proc/net/tls_stat > "$IO/tls_stat.after" 2>&1
kill $K $U 2>/dev/null
wait
cp "$W/ktls/error.log" "$IO/ktls.error.log" 2>/dev/null
cp "$W/userspace/error.log" "$IO/userspace.error.log" 2>/dev/null
echo ok > "$IO/ktls-bench.done"
`;
}

export interface GuestDownload {
  side: string;
  httpCode: number;
  bytes: number;
  bytesPerSec: number;
  seconds: number;
  /** TlsTxSw before and after this download (undefined when /proc/net/tls_stat is absent) */
  txBefore?: number;
  txAfter?: number;
}

export function parseGuestResults(text: string): GuestDownload[] {
  const out: GuestDownload[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\d{3}) (\d+) ([\d.]+) ([\d.]+) (\S+) (\S+)\s*$/.exec(line.trim());
    if (!m) continue;
    const num = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
    out.push({ side: m[1]!, httpCode: Number(m[2]), bytes: Number(m[3]), bytesPerSec: Number(m[4]), seconds: Number(m[5]), txBefore: num(m[6]!), txAfter: num(m[7]!) });
  }
  return out;
}

/** Turn the guest's downloads into the kTLS section (pure). */
export function ktlsFromGuest(downloads: GuestDownload[], expectBytes: number, note: string): KtlsSection {
  const MiB = 1024 * 1024;
  const pick = (side: string) => downloads.filter((d) => d.side === side && d.httpCode === 200 && d.bytes === expectBytes);
  const k = pick('ktls');
  const u = pick('userspace');
  if (!k.length || !u.length) {
    return { measured: false, mode: 'emulated', reason: `the VM run produced no complete downloads (${downloads.length} lines); see its io directory` };
  }
  const grew = (ds: GuestDownload[]) => ds.filter((d) => d.txBefore !== undefined && d.txAfter !== undefined && d.txAfter > d.txBefore).length;
  const evidence = { ktlsDownloadsWithTlsTxSwIncrement: grew(k), userspaceDownloadsWithTlsTxSwIncrement: grew(u), ktlsDownloads: k.length, userspaceDownloads: u.length };
  const engaged = evidence.ktlsDownloadsWithTlsTxSwIncrement === k.length && evidence.userspaceDownloadsWithTlsTxSwIncrement === 0;
  const base = summarize(u.map((d) => d.bytesPerSec / MiB));
  const cand = summarize(k.map((d) => d.bytesPerSec / MiB));
  const w: WorkloadResult = compare({
    id: 'ktls-download',
    title: `kTLS vs userspace TLS, same binary, ${expectBytes / MiB} MiB HTTPS download, ${EMULATED_LABEL}`,
    unit: 'MiB/s',
    method: 'inside the QEMU guest (kernel with the tls module): baseline ssl_conf_command Options -KTLS, candidate Options KTLS; curl, interleaved, after one unmeasured download each',
    baseline: { samples: u.map((d) => d.bytesPerSec / MiB), summary: base },
    candidate: { samples: k.map((d) => d.bytesPerSec / MiB), summary: cand },
    notes: [
      EMULATED_LABEL,
      engaged
        ? 'kernel TLS engaged: /proc/net/tls_stat TlsTxSw grew on every kTLS download and on no userspace download'
        : `WARNING: kTLS did not engage as expected (TlsTxSw grew on ${evidence.ktlsDownloadsWithTlsTxSwIncrement}/${k.length} kTLS and ${evidence.userspaceDownloadsWithTlsTxSwIncrement}/${u.length} userspace downloads)`,
      note,
    ].filter(Boolean),
  });
  return { measured: true, mode: 'emulated', workload: w, evidence, reason: engaged ? undefined : 'kTLS did not engage in the VM' };
}

/** Run the experiment in the VM. Throws when the VM cannot run (the caller reports why). */
export async function ktlsInVm(c: {
  info: NginxInfo;
  settings: ServeSettings;
  vm?: Partial<VmBenchSettings>;
  hostDir: string;
  say: (l: string) => void;
  signal?: AbortSignal;
}): Promise<KtlsSection> {
  const vm = { ...VM_BENCH, ...c.vm };
  const { runInVm } = await import('../smoke/vm/index.ts');
  const { guestScratch } = await import('../smoke/index.ts');
  // runInVm's layout: <share>/<run>/probe.sh on the host is <scratch>/nginx-forge/share/<run>/ in the guest
  const share = path.join(c.hostDir, 'vm-share');
  const runDir = 'ktls-bench';
  const io = path.join(share, runDir);
  mkdirSync(io, { recursive: true });
  const scratch = guestScratch([c.info.path]);
  const work = `${scratch}/nginx-forge/work`;
  const ioSeen = `${scratch}/nginx-forge/share/${runDir}`;
  const earlyErrorLog = true;
  for (const side of ['ktls', 'userspace'] as const) {
    writeFileSync(
      path.join(io, `${side}.conf`),
      renderConf({
        bin: c.info.path, dir: `${work}/${side}`, docroot: `${work}/www`, cert: `${work}/cert.pem`, key: `${work}/key.pem`,
        tlsPort: PORTS[side].tls, plainPort: PORTS[side].plain, ktls: side === 'ktls' ? 'on' : 'off',
        gzipLevel: c.settings.gzipLevel, workers: c.settings.workers, earlyErrorLog,
      }),
    );
  }
  writeFileSync(
    path.join(io, 'probe.sh'),
    renderGuestBench({ nginx: c.info.path, work, io: ioSeen, bytes: vm.bytes, downloads: vm.downloads, cipher: c.settings.tls13Cipher, maxSeconds: 120, earlyErrorLog }),
    { mode: 0o755 },
  );
  c.say(`kTLS: host kernel lacks the tls ULP; running the experiment in the QEMU guest (TCG, ${vm.downloads} x ${vm.bytes >> 20} MiB per side)`);
  const r = await runInVm({
    share,
    runs: [runDir],
    scratch,
    timeoutSec: vm.timeoutSec,
    signal: c.signal,
    onLog: (l) => c.say(`vm: ${l}`),
    ctx: { component: 'bench', stage: 'ktls-vm', log: path.join(share, 'vm.log'), signal: c.signal },
  });
  let text = '';
  try {
    text = readFileSync(path.join(io, 'ktls-results.txt'), 'utf8');
  } catch {
    /* reported below */
  }
  let failed = '';
  try {
    failed = readFileSync(path.join(io, 'ktls-bench.failed'), 'utf8').trim();
  } catch {
    /* none */
  }
  if (failed) return { measured: false, mode: 'emulated', reason: `the VM experiment failed: ${failed}` };
  const section = ktlsFromGuest(parseGuestResults(text), vm.bytes, `guest kernel ${r.kernel.release}, boot ${r.bootMs ?? '?'} ms, VM run ${Math.round(r.totalMs / 1000)} s`);
  return { ...section, evidence: { ...section.evidence } };
}

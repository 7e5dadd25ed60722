// The environment nginx's test suite runs with against a sanitizer build: the sanitizers a binary
// was built with are read from its configure arguments (`-fsanitize=...` in --with-cc-opt), so the
// plan (pure) and the test stage agree on it and it is part of the test stage's key.
//
// - AddressSanitizer: a finding aborts the process (abort_on_error=1, halt_on_error=1). Its report
//   goes to stderr, which nginx points at its error log once the configuration is read, so the
//   suite's "no sanitizer errors" check and our report see it; a worker that aborts is also an
//   `[alert] ... exited on signal 6` in the master's log. LeakSanitizer is off (detect_leaks=0):
//   nginx never frees its cycle pools at exit (master, workers and `nginx -t` all end with the
//   process), so every process would report the same "leaks" and each file would fail on them.
// - UndefinedBehaviorSanitizer: print_stacktrace=1, halt_on_error=1, abort_on_error=1: the first
//   finding ends the process with SIGABRT (the build is recoverable, so `nginx -t` in the verify
//   stage and a run by hand print every finding and go on).

/** The sanitizers named by -fsanitize= options in configure arguments, sorted, e.g. ["address", "undefined"]. */
export function sanitizersOf(configureArgs: string[]): string[] {
  const out = new Set<string>();
  for (const a of configureArgs) {
    if (!a.startsWith('--with-cc-opt=') && !a.startsWith('--with-ld-opt=')) continue;
    for (const m of a.matchAll(/(?:^|[\s=])-fsanitize=([a-z,-]+)/g)) for (const s of m[1]!.split(',')) if (s) out.add(s);
  }
  return [...out].sort();
}

/** The suite's extra environment for a binary built with these sanitizers (empty without any). */
export function sanitizerEnv(sanitizers: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  if (sanitizers.includes('address')) env.ASAN_OPTIONS = 'detect_leaks=0:abort_on_error=1:halt_on_error=1:print_summary=1';
  if (sanitizers.includes('undefined')) env.UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1:abort_on_error=1';
  return env;
}

/**
 * The environment `nginx -t` runs with in the verify stage for a sanitizer build: LeakSanitizer off,
 * for the reason above (with every module of ktls, `nginx -t` "leaks" 113 KB in 11 allocations at
 * exit and LeakSanitizer makes it exit 23); findings are printed and the check goes on.
 */
export function verifyEnv(sanitizers: string[]): Record<string, string> {
  return sanitizers.includes('address') ? { ASAN_OPTIONS: 'detect_leaks=0' } : {};
}

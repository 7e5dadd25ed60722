// Pieces of nginx configuration shared by every config nginx-forge writes (verify, smoke, bench).
// Built binaries carry system paths (/var/lib/nginx/...); these keep a run inside its scratch dir.

const TEMP_PATHS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'] as const;

/** The five http-level *_temp_path directives, each pointing at <dir>/<name>. */
export function tempPathDirectives(dir: string, indent = '    '): string {
  return TEMP_PATHS.map((n) => `${indent}${n}_temp_path ${dir}/${n};`).join('\n');
}

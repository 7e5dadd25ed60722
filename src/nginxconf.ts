// Pieces of nginx configuration shared by every config nginx-forge writes (verify, smoke, bench)
// and by the planner and the packages: the temp path table is written once, here.
// Built binaries carry system paths (/var/lib/nginx/...); tempPathDirectives keeps a run inside its scratch dir.

/**
 * nginx's temp path configure options and the directive each one sets. Each directive is
 * `<kind>_temp_path`; nginx's own default directory is `<kind>_temp` below the prefix (auto/options).
 */
export const TEMP_PATHS: Readonly<Record<string, string>> = {
  'http-client-body-temp-path': 'client_body_temp_path',
  'http-proxy-temp-path': 'proxy_temp_path',
  'http-fastcgi-temp-path': 'fastcgi_temp_path',
  'http-uwsgi-temp-path': 'uwsgi_temp_path',
  'http-scgi-temp-path': 'scgi_temp_path',
};

/** The kind of a temp path directive: client_body_temp_path -> client_body. */
export const tempKind = (directive: string): string => directive.replace(/_temp_path$/, '');

/** The five http-level *_temp_path directives, each pointing at <dir>/<kind>. */
export function tempPathDirectives(dir: string, indent = '    '): string {
  return Object.values(TEMP_PATHS)
    .map((d) => `${indent}${d} ${dir}/${tempKind(d)};`)
    .join('\n');
}

// A real HTTP server on 127.0.0.1 for download tests (node:http, nothing mocked). Each path gets
// a behaviour; every request is recorded (path, method, headers) so tests can assert on
// what the client actually sent, e.g. `Range: bytes=N-` or that no request was made at all.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  /** Serve the bytes; honours `Range: bytes=N-` with 206 unless `range: false` (then always 200). */
  | { kind: 'bytes'; body: Buffer; range?: boolean; contentType?: string; chunkDelayMs?: number }
  /** Reply with a status (404, 500, ...) and a short text body. */
  | { kind: 'status'; status: number }
  /** An HTML error/login page with status 200 (contentType defaults to text/html). */
  | { kind: 'html'; contentType?: string }
  /** First request: send headers (full Content-Length) and `after` bytes, then close the
   *  connection. Later requests: like `bytes` (with or without Range support). */
  | { kind: 'drop'; body: Buffer; after: number; range?: boolean }
  /** Send the headers (and `after` bytes), then nothing at all. */
  | { kind: 'stall'; body: Buffer; after?: number }
  /** Redirect (302) to another path or URL. */
  | { kind: 'redirect'; to: string; status?: number }
  /** An endless 200 response without Content-Length: `chunk` bytes every `tickMs` until the client goes. */
  | { kind: 'endless'; chunk?: number; tickMs?: number }
  /** A slow drip: headers (with Content-Length), then `bytesPerTick` bytes every `tickMs`. */
  | { kind: 'drip'; body: Buffer; bytesPerTick: number; tickMs: number }
  /** Fail `failures` times with `status` (default 500), then behave like `then`. */
  | { kind: 'flaky'; failures: number; status?: number; then: Behaviour };

export interface RecordedRequest {
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
}

export interface TestServer {
  /** e.g. http://127.0.0.1:34567 */
  url: string;
  on(path: string, b: Behaviour): void;
  requests: RecordedRequest[];
  /** Number of requests (for one path, or all). */
  count(path?: string): number;
  reset(): void;
  close(): Promise<void>;
}

export const HTML_PAGE = '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in to download.</body></html>\n';

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Behaviour>();
  const hits = new Map<string, number>();
  const requests: RecordedRequest[] = [];

  const serveBytes = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, range: boolean, contentType = 'application/octet-stream', chunkDelayMs = 0) => {
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range && m) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-type': contentType,
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'accept-ranges': 'bytes',
      });
    } else {
      res.writeHead(200, { 'content-type': contentType, 'content-length': body.length, ...(range ? { 'accept-ranges': 'bytes' } : {}) });
    }
    const rest = body.subarray(start);
    if (!chunkDelayMs) {
      res.end(rest);
      return;
    }
    // slow server: 8 chunks with a pause between them
    const size = Math.ceil(rest.length / 8);
    let off = 0;
    const tick = () => {
      if (res.destroyed) return;
      if (off >= rest.length) return void res.end();
      res.write(rest.subarray(off, off + size));
      off += size;
      setTimeout(tick, chunkDelayMs);
    };
    tick();
  };

  const handle = (b: Behaviour, n: number, req: http.IncomingMessage, res: http.ServerResponse): void => {
    switch (b.kind) {
      case 'bytes':
        return serveBytes(req, res, b.body, b.range !== false, b.contentType, b.chunkDelayMs);
      case 'status':
        res.writeHead(b.status, { 'content-type': 'text/plain' });
        res.end(`status ${b.status}\n`);
        return;
      case 'html':
        res.writeHead(200, { 'content-type': b.contentType ?? 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(HTML_PAGE) });
        res.end(HTML_PAGE);
        return;
      case 'drop':
        if (n === 1) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.body.length, 'accept-ranges': 'bytes' });
          res.write(b.body.subarray(0, b.after), () => {
            // then close the connection mid-body (after a moment, so the client has read those
            // bytes: a client discards what it had not read yet when the connection fails)
            setTimeout(() => res.socket?.end(), 100);
          });
          return;
        }
        return serveBytes(req, res, b.body, b.range !== false);
      case 'stall':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.body.length });
        if (b.after) res.write(b.body.subarray(0, b.after));
        else res.flushHeaders();
        return; // and then nothing, until the client gives up
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const buf = Buffer.alloc(b.chunk ?? 64 * 1024, 0x61);
        const pump = () => {
          if (res.destroyed || res.writableEnded) return;
          if (b.tickMs) {
            res.write(buf);
            setTimeout(pump, b.tickMs);
          } else {
            while (res.write(buf)) if (res.destroyed) return;
            res.once('drain', pump);
          }
        };
        pump();
        return;
      }
      case 'drip': {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.body.length });
        let off = 0;
        const drip = () => {
          if (res.destroyed) return;
          if (off >= b.body.length) return void res.end();
          res.write(b.body.subarray(off, off + b.bytesPerTick));
          off += b.bytesPerTick;
          setTimeout(drip, b.tickMs);
        };
        drip();
        return;
      }
      case 'redirect':
        res.writeHead(b.status ?? 302, { location: b.to, 'content-type': 'text/html' });
        res.end('<html><body>moved</body></html>');
        return;
      case 'flaky':
        if (n <= b.failures) {
          res.writeHead(b.status ?? 500, { 'content-type': 'text/plain' });
          res.end('temporary failure\n');
          return;
        }
        return handle(b.then, n - b.failures, req, res);
    }
  };

  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path: p, method: req.method ?? 'GET', headers: req.headers });
    const n = (hits.get(p) ?? 0) + 1;
    hits.set(p, n);
    const b = routes.get(p);
    if (!b) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no route\n');
      return;
    }
    handle(b, n, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    on: (p, b) => void routes.set(p, b),
    requests,
    count: (p) => (p === undefined ? requests.length : requests.filter((r) => r.path === p).length),
    reset: () => {
      requests.length = 0;
      hits.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Serves the built single-page app. The page lives at `/` and its client routes under
 * `/console/...`, a prefix no API route uses, so the SPA fallback never shadows the API:
 * `GET /executions` stays JSON for scripts while the page's list is `/console/executions`.
 * Hashed assets are cached for a year; the HTML is revalidated on every load, so a new
 * build is picked up at once.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { PROBLEM_CONTENT_TYPE, problemBody, problemInstance } from '@orchestr8/common';
import type { Request, RequestHandler, Response } from 'express';

/** Where the page's client routes live; the API never uses this prefix. */
export const CONSOLE_PREFIX = '/console';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/**
 * The page may load only its own files and talk only to this server: no CDN, no external
 * font, no inline script. Inline styles are allowed (the graph renderer positions nodes with them).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** A problem answer (RFC 9457) like every other route's, the request path as its instance. */
export function problem(res: Response, status: number, code: string, detail: string): void {
  res
    .status(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(status, code, detail, {}, problemInstance(res.req.originalUrl))));
}

export function staticApp(appDir: string): RequestHandler {
  const indexFile = join(appDir, 'index.html');
  const assetsDir = join(appDir, 'assets');
  let index: Buffer | undefined;
  const readIndex = (): Buffer | undefined => {
    if (index === undefined && existsSync(indexFile)) index = readFileSync(indexFile);
    return index;
  };
  const sendIndex = (req: Request, res: Response) => {
    const html = readIndex();
    if (html === undefined)
      return problem(
        res,
        503,
        'CONSOLE_NOT_BUILT',
        `the console is not built (no ${indexFile}): run "pnpm build" in the repository`,
      );
    res.status(200);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Length', String(html.length));
    res.end(req.method === 'HEAD' ? undefined : html);
  };
  const assetPrefix = `${CONSOLE_PREFIX}/assets/`;
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const path = req.path;
    if (path === '/') return sendIndex(req, res);
    if (path.startsWith(assetPrefix)) {
      const name = path.slice(assetPrefix.length);
      const file = normalize(join(assetsDir, name));
      // No way out of the assets folder, and no directory listings.
      if (!file.startsWith(assetsDir + sep) || !existsSync(file) || !statSync(file).isFile())
        return problem(res, 404, 'NOT_FOUND', `no console asset "${name.slice(0, 200)}"`);
      res.status(200);
      res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
      // File names carry a content hash: a changed file is a new name.
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      const body = readFileSync(file);
      res.setHeader('Content-Length', String(body.length));
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    // Client routes of the page (a reload or a shared link of /console/executions/<id>).
    if (
      path === CONSOLE_PREFIX ||
      (path.startsWith(`${CONSOLE_PREFIX}/`) && !path.startsWith(`${CONSOLE_PREFIX}/api/`))
    )
      return sendIndex(req, res);
    next();
  };
}

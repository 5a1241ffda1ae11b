/**
 * @module @orchestr8/console
 *
 * The orchestr8 console: a single-page app (built by Vite into `dist/app`) to see and operate
 * workflows and executions in a browser, and the routes a server mounts to serve it. The page
 * is at `/`, its client routes under `/console/...`; its data comes from the ordinary API,
 * plus `GET /console/api/executions/:id` (inputs, parent, definition) behind the same auth.
 *
 * @example
 * import { createServer } from '@orchestr8/server';
 * import { createConsoleRouters } from '@orchestr8/console';
 *
 * const server = createServer({ engine, registry, routers: createConsoleRouters({ store: engine.store }) });
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import { type ConsoleStore, executionContextRouter } from './execution-context.js';
import { staticApp } from './static-app.js';

export type { ConsoleStore, ExecutionContextView } from './execution-context.js';
export { CONSOLE_PREFIX, CONTENT_SECURITY_POLICY } from './static-app.js';

export interface ConsoleOptions {
  /** Where executions and definitions are read from (the server's store). */
  store: ConsoleStore;
  /** The built app. Default: this package's `dist/app`. */
  appDir?: string;
}

/** A router for `createServer({ routers })`; `public` ones are mounted before API-key auth. */
export interface ConsoleRouter {
  handler: RequestHandler;
  public?: boolean;
}

/** This package's built app, found from this module (src/ or dist/, both one level below the root). */
export function defaultAppDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'app');
}

/**
 * The console's routes: the page and its assets are public (they hold no data, and a browser
 * cannot send an API key when it navigates); the data route sits behind the server's auth.
 * Both sit behind the server's Host/Origin guard.
 */
export function createConsoleRouters(options: ConsoleOptions): ConsoleRouter[] {
  return [
    { handler: staticApp(options.appDir ?? defaultAppDir()), public: true },
    { handler: executionContextRouter(options.store) },
  ];
}

// The vitest hooks around pg-server.ts, apart from it: benches import pg-server.ts under plain node.
import { afterAll, beforeAll } from 'vitest';
import { type PgServer, type StartPostgresOptions, startPostgres } from './pg-server.js';

/** The server `usePostgres` starts: its properties read the running server when used; the hooks stop it. */
export type PgHandle = Omit<PgServer, 'stop'>;

/**
 * Starts a server in a `beforeAll` and stops it in an `afterAll`, both registered where this
 * is called (the file, or the `describe` block it is called in), for the tests that follow:
 *
 *     const server = usePostgres();
 *     it('...', async () => { await openPostgresStore({ url: server.freshSchemaUrl() }); });
 *
 * Reading the handle before the `beforeAll` ran (at module level, or in a hook registered
 * before this call) throws.
 */
export function usePostgres(options?: StartPostgresOptions): PgHandle {
  let server: PgServer | undefined;
  beforeAll(async () => {
    server = await startPostgres(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  const started = (): PgServer => {
    if (!server) throw new Error('usePostgres: the server is read before its beforeAll started it');
    return server;
  };
  return {
    get port() {
      return started().port;
    },
    get dir() {
      return started().dir;
    },
    url: (database) => started().url(database),
    freshSchemaUrl: () => started().freshSchemaUrl(),
  };
}

// The vitest hooks around nats-server.ts, apart from it: benches import nats-server.ts under plain node.
import { afterAll, beforeAll } from 'vitest';
import { type NatsServer, startNats } from './nats-server.js';

/** The server `useNats` starts: `url` reads the running server when used; the hooks stop it. */
export type NatsHandle = Omit<NatsServer, 'stop'>;

/**
 * Starts a nats-server in a `beforeAll` and stops it in an `afterAll`, both registered where
 * this is called (the file, or the `describe` block it is called in):
 *
 *     const nats = useNats();
 *     it('...', async () => { await createNatsTransport({ streamId: 's', servers: nats.url }); });
 *
 * Reading `url` before the `beforeAll` ran (at module level, or in a hook registered before
 * this call) throws.
 */
export function useNats(): NatsHandle {
  let server: NatsServer | undefined;
  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get url() {
      if (!server) throw new Error('useNats: the server is read before its beforeAll started it');
      return server.url;
    },
  };
}

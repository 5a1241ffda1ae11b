import { defineConfig } from 'vitest/config';

// Unit tests import workspace packages from source (the "source" export condition),
// so they need no build; end-to-end tests spawn the built CLI, which `pnpm test` builds first.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'docs-site/test/**/*.test.ts',
      'scripts/release/test/**/*.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The MCP SDK's HTTP client imports eventsource-parser, which publishes TypeScript under the
    // "source" condition these tests resolve: vite transforms both instead of Node loading them.
    server: {
      deps: {
        inline: [/@modelcontextprotocol\/sdk\/dist\/esm\/client\/streamableHttp/, 'eventsource-parser'],
      },
    },
  },
});

/**
 * @module @orchestr8/cli/config
 * The type of `orchestr8.config.ts` and its `defineConfig` helper, importable on their own
 * (`@orchestr8/cli/config`) so a config file loads in milliseconds, without the CLI.
 *
 * @example
 * import { defineConfig } from '@orchestr8/cli/config';
 * export default defineConfig({ agents: ['./agents/index.ts'], store: 'sqlite:./.orchestr8/orchestr8.db' });
 */

/**
 * The project configuration file, `orchestr8.config.ts` (or `.mts`, `.js`, `.mjs`, `.json`),
 * found from the working directory upwards, or named with `--config <file>`. Relative paths
 * are relative to the config file. `--store` and `ORCHESTR8_STORE` take precedence over
 * `store`; `--agents` modules are loaded after (and over) `agents`.
 */
export interface Orchestr8Config {
  /** JS or TS modules exporting agents (named exports or a default array), loaded in order. */
  agents?: string[];
  /** Where executions are recorded: `sqlite:<path>` or `memory` (or `postgres://...` where supported). */
  store?: string;
  defaults?: {
    /** Maximum steps running at once per execution, for documents that do not set it. */
    concurrency?: number;
  };
  /**
   * What workflow documents may reach on this machine (docs: concepts/security). Documents
   * are untrusted: they can narrow these grants, never widen them. Default: nothing beyond
   * public network addresses.
   */
  capabilities?: {
    /** Environment variables documents may read (`${env.X}`, secretRefs): names or `PREFIX_*`. `ORCHESTR8_*` never. */
    env?: string[];
    /** Non-public destinations the http, remote and llm agents may reach: hosts, IPs, CIDRs, or "*". */
    egress?: { allow?: string[] };
    /**
     * Per agent id: e.g. `{"@orchestr8/shell": {allow: ["git"], root: "./work", passEnv: ["GIT_AUTHOR_NAME"]}}`,
     * `{"@orchestr8/workflow": {root: "./workflows"}}`, `{"@orchestr8/llm": {baseUrl: "http://127.0.0.1:11434/v1"}}`.
     */
    agents?: Record<string, Record<string, unknown>>;
    /** How deep sub-workflows may nest (default 16). */
    maxWorkflowDepth?: number;
  };
  /**
   * Streams `orchestr8 serve` processes (docs: concepts/streams). Its `--stream`,
   * `--stream-nats` and `--stream-grace` flags win over these.
   */
  streams?: {
    /** Stream documents, relative to the config file. */
    files?: string[];
    /** The streams' events, actions and context on NATS JetStream, e.g. `"nats://127.0.0.1:4222"` (else in memory). */
    nats?: string;
    /** How long after a slice ends its late events are still taken, e.g. `"200ms"` (default 0ms). */
    grace?: string | number;
  };
}

/** Typed identity for `orchestr8.config.ts`: `export default defineConfig({...})`. */
export function defineConfig(config: Orchestr8Config): Orchestr8Config {
  return config;
}

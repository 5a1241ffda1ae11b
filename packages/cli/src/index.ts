/**
 * @module @orchestr8/cli
 * The `orchestr8` command line. The binary is `dist/bin.js`; `createProgram()` exposes the
 * commander tree for embedding and for generating the CLI reference. `defineConfig` types a
 * project's `orchestr8.config.ts`; `loadProjectConfig` reads it as every command does.
 *
 * @example
 * // orchestr8.config.ts
 * import { defineConfig } from '@orchestr8/cli/config';
 * export default defineConfig({ agents: ['./agents/index.ts'], store: 'sqlite:./.orchestr8/orchestr8.db' });
 */

export {
  CONFIG_FILE_NAMES,
  configuredStore,
  defineConfig,
  findConfigFile,
  loadProjectConfig,
  type Orchestr8Config,
  type ProjectConfig,
  storeFlag,
} from './config.js';
export { ExitCode } from './exit-codes.js';
export { loadAgentModule } from './load-agents.js';
export { createProgram } from './program.js';

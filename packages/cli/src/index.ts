/**
 * @module @orchestr8/cli
 * The `orchestr8` command line. The binary is `dist/bin.js`; `createProgram()` exposes the
 * commander tree for embedding and for generating the CLI reference.
 */

export { ExitCode } from './exit-codes.js';
export { loadAgentModule } from './load-agents.js';
export { createProgram } from './program.js';

/**
 * @module @orchestr8/agents
 * The standard agents every orchestr8 host registers: HTTP calls, shell commands, data
 * transforms, LLM prompts and sub-workflows.
 */
import type { Agent } from '@orchestr8/core';

export const standardAgents: readonly Agent[] = [];

import { ValidationError } from '@orchestr8/common';
import {
  type CompiledWorkflow,
  formatDiagnostic,
  type LoadResult,
  loadWorkflow,
  loadWorkflowFile,
  validateWorkflowObject,
} from '@orchestr8/schema';
import type { AgentRegistry } from './agent.js';

export interface CompileOptions {
  /** Named in diagnostics; its extension picks the format of a text. */
  filename?: string;
  /** Of a text (default: from the filename, else YAML, which also reads JSON). */
  format?: 'yaml' | 'json';
}

export interface WorkflowCompiler {
  compile(document: unknown, options?: CompileOptions): CompiledWorkflow;
  compileFile(path: string): Promise<CompiledWorkflow>;
}

/** Texts kept compiled: a program compiles a handful of documents, not thousands. */
const MAX_CACHED_TEXTS = 64;

/**
 * Compiles documents against a registry's agents (what `orchestr8 validate` does with a
 * project's agents). Compile once, execute many: the same object (by identity) or the
 * same text is compiled once; failures are not cached.
 */
export function createWorkflowCompiler(registry: AgentRegistry): WorkflowCompiler {
  const knownAgents = () => registry.list().map((a) => a.id);
  const byObject = new WeakMap<object, CompiledWorkflow>();
  const byText = new Map<string, CompiledWorkflow>();
  return {
    compile(document, options = {}) {
      if (typeof document === 'string') {
        const key = `${options.format ?? ''}\0${options.filename ?? ''}\0${document}`;
        let workflow = byText.get(key);
        if (workflow === undefined) {
          const loaded = loadWorkflow(document, { ...options, knownAgents: knownAgents() });
          workflow = compiledOrThrow(loaded, options.filename ?? 'workflow');
          if (byText.size >= MAX_CACHED_TEXTS) byText.delete(byText.keys().next().value!);
          byText.set(key, workflow);
        }
        return workflow;
      }
      if (typeof document !== 'object' || document === null) {
        return compiledOrThrow(validateWorkflowObject(document), 'workflow');
      }
      let workflow = byObject.get(document);
      if (workflow === undefined) {
        const loaded = validateWorkflowObject(document, { knownAgents: knownAgents() });
        workflow = compiledOrThrow(loaded, 'workflow');
        byObject.set(document, workflow);
      }
      return workflow;
    },
    async compileFile(path) {
      return compiledOrThrow(await loadWorkflowFile(path, { knownAgents: knownAgents() }), path);
    },
  };
}

/** The compiled workflow of a load result, or a ValidationError carrying its diagnostics. */
export function compiledOrThrow(loaded: LoadResult, what: string): CompiledWorkflow {
  if (loaded.ok && loaded.workflow) return loaded.workflow;
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0] ?? loaded.diagnostics[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  throw new ValidationError(
    `${what} is invalid: ${first ? formatDiagnostic(first) : 'unknown problem'}${more}`,
    {
      details: loaded.diagnostics,
    },
  );
}

/**
 * Turns what a request names (an inline document, YAML/JSON text, or a registered id and
 * version) into a compiled workflow, validating exactly as `orchestr8 validate` does.
 * Compiling is the expensive part of a request, so results (diagnostics included) are
 * cached by document; a compiled workflow is immutable and shared between executions.
 */
import type { AgentRegistry, Store } from '@orchestr8/core';
import {
  type CompiledWorkflow,
  type Diagnostic,
  type LoadResult,
  loadWorkflow,
  validateWorkflowObject,
} from '@orchestr8/schema';
import { HttpProblem, ProblemCode } from './problem.js';

export interface Resolved {
  workflow: CompiledWorkflow;
  warnings: Diagnostic[];
}

const CACHE_SIZE = 256;

export class WorkflowResolver {
  private readonly cache = new Map<string, LoadResult>();

  constructor(
    private readonly store: Store,
    private readonly registry: AgentRegistry,
  ) {}

  /** Validates a document given inline (an object, or text in YAML or JSON); 422 with the diagnostics when invalid. */
  inline(document: unknown): Resolved {
    const text = typeof document === 'string';
    const key = text ? `t${document}` : `o${JSON.stringify(document)}`;
    const loaded = this.cached(key, () =>
      text
        ? loadWorkflow(document, { knownAgents: this.knownAgents() })
        : validateWorkflowObject(document, { knownAgents: this.knownAgents() }),
    );
    return unwrap(loaded, 'the workflow document is invalid');
  }

  /** A registered workflow: the given version, or the newest. 404 when there is none. */
  async registered(id: string, version: string | undefined): Promise<Resolved> {
    const def = await this.store.getDefinition(id, version);
    if (!def) {
      throw new HttpProblem(
        404,
        ProblemCode.NOT_FOUND,
        version === undefined
          ? `no workflow "${id}" is registered`
          : `workflow "${id}" has no version "${version}"`,
      );
    }
    const loaded = this.cached(`h${def.hash}`, () =>
      validateWorkflowObject(def.document, { knownAgents: this.knownAgents() }),
    );
    return unwrap(loaded, `the registered workflow "${id}" version "${def.version}" no longer validates`);
  }

  private knownAgents(): string[] {
    return this.registry.list().map((a) => a.id);
  }

  private cached(key: string, load: () => LoadResult): LoadResult {
    let hit = this.cache.get(key);
    if (hit) {
      // Most recently used last: the first key is the one to evict.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    hit = load();
    this.cache.set(key, hit);
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return hit;
  }
}

function unwrap(loaded: LoadResult, message: string): Resolved {
  if (!loaded.ok || !loaded.workflow) {
    throw new HttpProblem(422, ProblemCode.VALIDATION, message, {
      errors: loaded.diagnostics.filter((d) => d.severity === 'error'),
      warnings: loaded.diagnostics.filter((d) => d.severity !== 'error'),
    });
  }
  return { workflow: loaded.workflow, warnings: loaded.diagnostics };
}

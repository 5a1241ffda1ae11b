/**
 * Turns what a request names (an inline document, YAML/JSON text, or a registered id and
 * version) into a compiled workflow, validating exactly as `orchestr8 validate` does.
 * Compiling is the expensive part of a request, so results (diagnostics included) are
 * cached by document; a compiled workflow is immutable and shared between executions.
 */
import type { AgentRegistry, DefinitionRecord, Store } from '@orchestr8/core';
import {
  type CompiledWorkflow,
  type Diagnostic,
  type LoadResult,
  loadWorkflow,
  validateWorkflowObject,
} from '@orchestr8/schema';
import { isReservedWorkflowId, RESERVED_WORKFLOW_IDS } from './contracts/workflows.js';
import { HttpProblem, ProblemCode } from './problem.js';

export interface Resolved {
  workflow: CompiledWorkflow;
  warnings: Diagnostic[];
}

const CACHE_SIZE = 256;
/**
 * How long "the newest version of X" is taken from memory. This server forgets it at once
 * when it registers a version of X (PUT, or an inline run); another process sharing the
 * store is seen within this time.
 */
const LATEST_TTL_MS = 1000;

export class WorkflowResolver {
  private readonly cache = new Map<string, LoadResult>();
  private readonly definitions = new Map<string, { def: DefinitionRecord; at: number }>();

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
    const def = await this.definition(id, version);
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

  /** Forgets which version of `id` is the newest (a version was just registered). */
  invalidate(id: string): void {
    this.definitions.delete(`latest:${id}`);
  }

  /** A stored (id, version) never changes, so it is cached for good; "the newest" for a second. */
  private async definition(id: string, version: string | undefined): Promise<DefinitionRecord | undefined> {
    const key = version === undefined ? `latest:${id}` : `v:${id}\u0000${version}`;
    const hit = this.definitions.get(key);
    if (hit && (version !== undefined || Date.now() - hit.at < LATEST_TTL_MS)) return hit.def;
    const def = await this.store.getDefinition(id, version);
    if (def) {
      this.definitions.delete(key);
      this.definitions.set(key, { def, at: Date.now() });
      if (this.definitions.size > CACHE_SIZE) this.definitions.delete(this.definitions.keys().next().value!);
    }
    return def;
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

/** The diagnostic of a document whose metadata.id is reserved (see `RESERVED_WORKFLOW_IDS`), if it is. */
export function reservedIdDiagnostic(id: string): Diagnostic | undefined {
  if (!isReservedWorkflowId(id)) return undefined;
  return {
    code: 'E_REQUEST',
    severity: 'error',
    pointer: '/metadata/id',
    message: `"${id}" is a reserved workflow id (${RESERVED_WORKFLOW_IDS.map((r) => `/workflows/${r}`).join(' and ')} are routes of the API): choose another metadata.id`,
  } as Diagnostic;
}

/** 422 for a document registered over HTTP under a reserved id: it could never be read or run by id. */
export function refuseReservedId(id: string): void {
  const d = reservedIdDiagnostic(id);
  if (d)
    throw new HttpProblem(
      422,
      ProblemCode.VALIDATION,
      `the document's metadata.id "${id}" is reserved: ${RESERVED_WORKFLOW_IDS.map((r) => `"${r}"`).join(' and ')} name routes, not workflows`,
      { errors: [d] },
    );
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

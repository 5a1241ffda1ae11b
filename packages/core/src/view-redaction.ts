/**
 * Redaction for what hosts show of stored executions (API responses, `orchestr8 inspect`,
 * journal reads). The store keeps step outputs and execution inputs whole, because a
 * resumed execution re-renders later steps' templates from them; so every view rebuilds
 * the execution's redactor from its stored definition and the environment, and applies it.
 */
import { createRedactor, noRedaction, type Redactor, secretValuesOf } from './redaction.js';
import type { Store } from './store.js';

type Env = Readonly<Record<string, string | undefined>>;

/** `context.secretRefs` of a stored (uncompiled) document, as name -> environment variable. */
export function secretRefsOfDocument(document: unknown): Record<string, string> {
  const refs = (document as { context?: { secretRefs?: unknown } } | null | undefined)?.context?.secretRefs;
  const out: Record<string, string> = {};
  if (typeof refs !== 'object' || refs === null) return out;
  for (const [name, ref] of Object.entries(refs)) {
    const variable = (ref as { env?: unknown } | null)?.env;
    if (typeof variable === 'string') out[name] = variable;
  }
  return out;
}

/**
 * The redactor of an execution of `document`: the values its `context.secretRefs` and
 * `secretEnv` name in `env`, as the engine that ran it redacted them (given the same
 * environment). Without secrets it is the inactive redactor, which costs nothing.
 */
export function redactorForDefinition(
  document: unknown,
  env: Env = process.env,
  secretEnv: readonly string[] = [],
): Redactor {
  const values = secretValuesOf(secretRefsOfDocument(document), env, secretEnv);
  return values.length === 0 ? noRedaction : createRedactor(values);
}

export interface ViewRedaction {
  /** The redactor for views of an execution, from its stored definition (by content hash). */
  forExecution(execution: { definitionHash: string }): Promise<Redactor>;
}

const CACHED_DEFINITIONS = 1000;

/**
 * Redactors for a host's views, one definition read per workflow version: which variables
 * are secret is cached by content hash; their values are read from `env` on every call, so
 * a rotated secret is redacted from the next response on.
 */
export function createViewRedaction(
  store: Pick<Store, 'getDefinitionByHash'>,
  options: { env?: Env; secretEnv?: readonly string[] } = {},
): ViewRedaction {
  const env = options.env ?? process.env;
  const secretEnv = options.secretEnv ?? [];
  const refs = new Map<string, Record<string, string>>();
  const built = new Map<string, { key: string; redactor: Redactor }>();
  return {
    async forExecution({ definitionHash }) {
      let r = refs.get(definitionHash);
      if (r === undefined) {
        const def = await store.getDefinitionByHash(definitionHash);
        // A missing definition (pruned) leaves secretEnv: nothing else is known to be secret.
        r = secretRefsOfDocument(def?.document);
        if (refs.size >= CACHED_DEFINITIONS) {
          refs.delete(refs.keys().next().value!);
          built.clear();
        }
        refs.set(definitionHash, r);
      }
      const values = secretValuesOf(r, env, secretEnv);
      if (values.length === 0) return noRedaction;
      const key = values.join('\u0000');
      const cached = built.get(definitionHash);
      if (cached?.key === key) return cached.redactor;
      const redactor = createRedactor(values);
      built.set(definitionHash, { key, redactor });
      return redactor;
    },
  };
}

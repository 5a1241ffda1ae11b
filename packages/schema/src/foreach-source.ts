// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { DiagnosticCode, error, type PendingDiagnostic } from './diagnostics.js';
import type { StepDocument } from './document-schema.js';
import { lookupPath, type PathSegment } from './path.js';
import type { CompiledValue } from './template.js';

/** The JSON Schema at a path inside the inputs schema (properties/items only), if known. */
function inputSchemaAt(schema: unknown, path: readonly PathSegment[]): Record<string, unknown> | undefined {
  let cur = schema as Record<string, unknown> | undefined;
  for (const seg of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    if (typeof seg === 'string') {
      const props = cur.properties as Record<string, unknown> | undefined;
      cur = props && Object.hasOwn(props, seg) ? (props[seg] as Record<string, unknown>) : undefined;
    } else {
      const prefix = cur.prefixItems as unknown[] | undefined;
      cur = (Array.isArray(prefix) && seg < prefix.length ? prefix[seg] : cur.items) as
        | Record<string, unknown>
        | undefined;
    }
  }
  return cur && typeof cur === 'object' ? cur : undefined;
}

function schemaTypes(schema: Record<string, unknown> | undefined): string[] | undefined {
  const t = schema?.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return undefined;
}

/**
 * `forEach.items` must be an array: refused when it is known not to be one (text, env,
 * secrets, index, a variable holding something else, an input the inputs schema types
 * otherwise). Step outputs are only known at run time.
 */
export function checkForEachSource(
  step: StepDocument,
  items: CompiledValue,
  at: string,
  variables: Record<string, unknown>,
  inputsSchema: unknown,
  report: (d: PendingDiagnostic) => void,
): void {
  const notArray = (why: string) =>
    report(
      error(DiagnosticCode.FOREACH_NOT_ARRAY, at, `forEach.items of step "${step.id}" ${why}`, {
        hint: 'use a literal array or one template such as "${steps.list.output.items}"',
      }),
    );
  if (items.kind === 'static') {
    if (!Array.isArray(items.value)) notArray('is a string, not an array');
    return;
  }
  if (items.kind === 'concat') {
    notArray('is text with templates inside, not an array');
    return;
  }
  if (items.kind !== 'ref') return; // a literal array with templates inside
  const ref = items.ref;
  if (ref.root === 'env' || ref.root === 'secrets' || ref.root === 'index') {
    notArray(`reads ${ref.root}, which is never an array`);
    return;
  }
  if (ref.root === 'variables') {
    const v = lookupPath(variables, ref.path);
    if (v !== undefined && !Array.isArray(v))
      notArray(`reads ${ref.source}, which is ${typeof v}, not an array`);
    return;
  }
  if (ref.root === 'inputs') {
    const types = schemaTypes(inputSchemaAt(inputsSchema, ref.path));
    if (types && !types.includes('array'))
      notArray(`reads ${ref.source}, which the inputs schema declares as ${types.join(' or ')}`);
  }
}

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
// What templates and conditions may read: the document's context, and each reference checked against it.
import { DiagnosticCode, error, listNames, type PendingDiagnostic, toPointer } from './diagnostics.js';
import type { StepDocument, WorkflowDocument } from './document-schema.js';
import { type CompiledExpression, compileExpression, ExpressionError } from './expression.js';
import type { StepGraph } from './graph.js';
import { formatPath, lookupPath } from './path.js';
import { checkUserSchema } from './schema-validator.js';
import { type CompiledValue, compileValueWith, type TemplateProblem, type TemplateRef } from './template.js';

/** What the document gives templates to read besides steps: its context and its inputs schema. */
export interface DocumentContext {
  variables: Record<string, unknown>;
  /** context.environment: the env.* names that may be read. */
  allow: Set<string>;
  /** Secret name -> the environment variable holding it. */
  secretRefs: Record<string, string>;
  inputsSchema: WorkflowDocument['inputs'];
  /** The input names a closed inputs schema (additionalProperties: false) allows. */
  closedInputs: Set<string> | undefined;
}

/** Reads the context, and reports an inputs schema that is not a valid JSON Schema. */
export function readContext(doc: WorkflowDocument, report: (d: PendingDiagnostic) => void): DocumentContext {
  const variables = (doc.context?.variables ?? {}) as Record<string, unknown>;
  const allow = new Set(doc.context?.environment ?? []);
  const secretRefs: Record<string, string> = {};
  for (const [name, ref] of Object.entries(doc.context?.secretRefs ?? {})) secretRefs[name] = ref.env;
  const inputsSchema = doc.inputs;
  if (inputsSchema) {
    const problems = checkUserSchema(inputsSchema);
    if (problems.length)
      report(
        error(DiagnosticCode.SCHEMA, '/inputs', `inputs is not a valid JSON Schema: ${problems.join('; ')}`),
      );
  }
  const closedInputs =
    inputsSchema && inputsSchema.additionalProperties === false && typeof inputsSchema.properties === 'object'
      ? new Set(Object.keys(inputsSchema.properties as object))
      : undefined;
  return { variables, allow, secretRefs, inputsSchema, closedInputs };
}

export interface RefContext {
  /** The reading step, or undefined for workflow outputs. */
  step?: number;
  /** Whether ${item} / ${index} exist here. */
  itemAllowed: boolean;
  /** Where the value sits, e.g. 'input', for messages. */
  what: string;
}

export interface ReferenceCheck {
  /** Reports a reference that the reader may not make (`pointer` is built only then). */
  checkRef: (ref: TemplateRef, pointer: () => string, ctx: RefContext) => void;
  /** Compiles a value whose templates are checked as read at `ctx`; `base` is its pointer. */
  compileAt: (value: unknown, base: string, ctx: RefContext) => CompiledValue;
  /** Compiles a step's condition and checks its references; undefined (reported) when it does not compile. */
  compileCondition: (source: string | undefined, at: string, step: number) => CompiledExpression | undefined;
}

/**
 * The reference checks of one document: a step may read only steps upstream of it, env names
 * in context.environment, secrets in context.secretRefs, defined variables, inputs a closed
 * inputs schema allows, and ${item} / ${index} only inside a forEach step.
 */
export function createReferenceCheck(
  steps: readonly StepDocument[],
  indexById: ReadonlyMap<string, number>,
  graph: StepGraph,
  unknownStepHint: (id: string) => string,
  { variables, allow, secretRefs, closedInputs }: DocumentContext,
  report: (d: PendingDiagnostic) => void,
): ReferenceCheck {
  const checkRef = (ref: TemplateRef, pointer: () => string, ctx: RefContext) => {
    // Message parts are built only when there is something to report (this runs per ref).
    const reader = () => (ctx.step === undefined ? 'outputs' : `step "${steps[ctx.step]!.id}"`);
    const shown = () =>
      `${ref.root}${ref.stepId === undefined ? '' : `.${ref.stepId}`}${formatPath(ref.path)}`;
    switch (ref.root) {
      case 'steps': {
        const x = indexById.get(ref.stepId!);
        if (x === undefined) {
          report(
            error(
              DiagnosticCode.UNKNOWN_STEP,
              pointer(),
              `${reader()} reads steps.${ref.stepId}, which does not exist`,
              {
                hint: unknownStepHint(ref.stepId!),
              },
            ),
          );
        } else if (ctx.step !== undefined) {
          if (x === ctx.step) {
            report(
              error(
                DiagnosticCode.NOT_UPSTREAM,
                pointer(),
                `${reader()} reads its own ${String(ref.path[0])} (${shown()})`,
                {
                  hint: 'a step can read only steps upstream of it',
                },
              ),
            );
          } else if (
            !graph.blocked.has(x) &&
            !graph.blocked.has(ctx.step) &&
            !graph.isUpstream(x, ctx.step)
          ) {
            report(
              error(
                DiagnosticCode.NOT_UPSTREAM,
                pointer(),
                `${reader()} reads steps.${ref.stepId}, which is not upstream of it`,
                {
                  hint: `add "${ref.stepId}" to dependencies`,
                },
              ),
            );
          }
        }
        return;
      }
      case 'env': {
        const name = String(ref.path[0]);
        if (!allow.has(name))
          report(
            error(
              DiagnosticCode.ENV_NOT_ALLOWED,
              pointer(),
              `${reader()} reads env.${name}, which is not in context.environment`,
              {
                hint: `add "${name}" to context.environment`,
              },
            ),
          );
        return;
      }
      case 'secrets': {
        const name = String(ref.path[0]);
        if (!Object.hasOwn(secretRefs, name))
          report(
            error(
              DiagnosticCode.UNKNOWN_SECRET,
              pointer(),
              `${reader()} reads secrets.${name}, which is not in context.secretRefs`,
              {
                hint: `add ${name}: { env: <VARIABLE> } to context.secretRefs`,
              },
            ),
          );
        return;
      }
      case 'variables':
        if (!ref.hasDefault && ref.path.length > 0 && lookupPath(variables, ref.path) === undefined)
          report(
            error(
              DiagnosticCode.UNKNOWN_VARIABLE,
              pointer(),
              `${reader()} reads ${shown()}, which is not defined`,
              {
                hint: Object.keys(variables).length
                  ? `variables: ${listNames(Object.keys(variables))}`
                  : 'define it under context.variables, or add a ?? default',
              },
            ),
          );
        return;
      case 'inputs': {
        const first = ref.path[0];
        if (closedInputs && typeof first === 'string' && !closedInputs.has(first))
          report(
            error(
              DiagnosticCode.UNKNOWN_INPUT,
              pointer(),
              `${reader()} reads inputs.${first}, which the inputs schema does not allow`,
              {
                hint: closedInputs.size ? `inputs: ${listNames([...closedInputs])}` : undefined,
              },
            ),
          );
        return;
      }
      case 'event':
        report(
          error(
            DiagnosticCode.WAIT,
            pointer(),
            `\${${ref.source}} in the ${ctx.what} of ${reader()}: event.* exists only in a wait's match`,
          ),
        );
        return;
      case 'trigger':
        report(
          error(
            DiagnosticCode.TEMPLATE,
            pointer(),
            `\${${ref.source}} in the ${ctx.what} of ${reader()}: trigger.* exists only in the document's triggers`,
            {
              hint: 'map what the trigger carries into the inputs in triggers[].inputs, then read ${inputs.<name>}',
            },
          ),
        );
        return;
      case 'item':
      case 'index':
        if (!ctx.itemAllowed)
          report(
            error(
              DiagnosticCode.ITEM_OUTSIDE_FOREACH,
              pointer(),
              `\${${ref.source}} in the ${ctx.what} of ${reader()}: ${ref.root} exists only in the input and idempotencyKey of a forEach step`,
            ),
          );
        return;
    }
  };

  const compileAt = (value: unknown, base: string, ctx: RefContext): CompiledValue =>
    compileValueWith(value, {
      onRef: (ref, at) => checkRef(ref, () => base + toPointer(at), ctx),
      onProblem: (p: TemplateProblem, at) => report(error(p.code, base + toPointer(at), p.message)),
    });

  const compileCondition = (
    source: string | undefined,
    at: string,
    step: number,
  ): CompiledExpression | undefined => {
    if (source === undefined) return undefined;
    try {
      const expr = compileExpression(source);
      for (const ref of expr.refs) checkRef(ref, () => at, { step, itemAllowed: false, what: 'condition' });
      return expr;
    } catch (e) {
      if (e instanceof ExpressionError) {
        report(error(e.diagnosticCode as typeof DiagnosticCode.EXPRESSION, at, e.message));
        return undefined;
      }
      throw e;
    }
  };

  return { checkRef, compileAt, compileCondition };
}

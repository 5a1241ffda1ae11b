// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
// What the document model's parts share: template and expression help, durations, JSON Schema objects.
import { z } from 'zod';
import { DURATION_PATTERN, POSITIVE_DURATION_PATTERN } from './duration.js';

export const TEMPLATE_HELP =
  'Strings may contain templates: ${steps.<id>.output.<path>}, ${steps.<id>.status}, ${steps.<id>.error.code}, ' +
  '${inputs.<path>}, ${variables.<path>}, ${env.<NAME>} (names on context.environment only), ${secrets.<NAME>} ' +
  '(names in context.secretRefs), and inside a forEach step ${item}, ${item.<path>} and ${index}. Each may end ' +
  'with a "?? <JSON literal>" default used when the value is missing or null. A string that is exactly one ' +
  'template yields the value with its type; a template inside a longer string is stringified (objects as ' +
  'JSON). Paths index arrays as items[0] or items.0. "$${" writes a literal "${".';

export const EXPRESSION_HELP =
  'A filtrex expression (https://github.com/cshaa/filtrex), optionally wrapped as ${ ... }. Names are dotted ' +
  'paths into steps.<id>.output|status|error, inputs, variables, env, secrets; a missing name is undefined. ' +
  'Operators: == != < <= > >= and or not in "not in" + - * / mod, if..then..else, exists(x), empty(x). ' +
  'Strings are double-quoted; single quotes name a path with unusual characters, e.g. ' +
  "'steps.fetch-a.output.count' > 0. and/or/not need booleans: use exists(x) or comparisons.";

export const Duration = z.union([z.number().min(0), z.string().regex(DURATION_PATTERN)]).meta({
  id: 'Duration',
  description:
    'A duration: a number of milliseconds, or a string with a unit: "500ms", "30s", "5m", "1h", "3d" (a day is 24 hours).',
  examples: [500, '30s', '5m'],
});

export const PositiveDuration = z
  .union([z.number().gt(0), z.string().regex(POSITIVE_DURATION_PATTERN)])
  .meta({
    id: 'PositiveDuration',
    description:
      'A duration greater than zero: a number of milliseconds, or a string with a unit: "500ms", "30s", "5m", "1h", "3d" (a day is 24 hours).',
    examples: [5000, '30s', '5m'],
  });

export const JsonSchemaObject = z.record(z.string(), z.unknown());

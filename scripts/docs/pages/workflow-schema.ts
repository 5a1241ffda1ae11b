/**
 * The workflow-document reference: one entry per field of `schema/workflow.schema.json`
 * (the published JSON Schema, itself generated from the zod model), with its type, whether
 * it is required, its default, its constraints, its description and its examples.
 */
import { stringify } from 'yaml';
import { constraintsOf, examplesOf, isSchema, type JsonSchema, refName, typeOf } from '../json-schema.js';
import { anchorId, code, fence, generatedHeader, json, prose, table, text } from '../markdown.js';

export interface SchemaField {
  /** `metadata.id`, `steps[].policies.retry`, `RetryPolicy.maxAttempts`. */
  path: string;
  anchor: string;
  schema: JsonSchema;
  required: boolean;
  /** The section (`Document` or a `$defs` name) it is listed under. */
  section: string;
}

interface Walk {
  fields: SchemaField[];
  /** `$defs` name -> the paths that reference it. */
  usages: Map<string, string[]>;
  /** Object `$defs` in the order they were reached. */
  objectDefs: string[];
}

const DEF_PREFIX = '#/$defs/';

function countRefs(node: unknown, counts: Map<string, number>): void {
  if (Array.isArray(node)) for (const n of node) countRefs(n, counts);
  else if (isSchema(node)) {
    if (typeof node.$ref === 'string') counts.set(node.$ref, (counts.get(node.$ref) ?? 0) + 1);
    for (const v of Object.values(node)) countRefs(v, counts);
  }
}

/** Every field of the document, in document order, then those of each object `$defs` entry. */
export function collectSchemaFields(schema: JsonSchema): Walk {
  const defs = isSchema(schema.$defs) ? schema.$defs : {};
  const counts = new Map<string, number>();
  countRefs(schema, counts);
  const walk: Walk = { fields: [], usages: new Map(), objectDefs: [] };
  const queued = new Set<string>();

  const descend = (s: JsonSchema, path: string, section: string) => {
    if (typeof s.$ref === 'string') {
      const name = refName(s.$ref);
      if (!s.$ref.startsWith(DEF_PREFIX) || !isSchema(defs[name]))
        throw new Error(`workflow schema: unresolvable $ref ${s.$ref} at ${path}`);
      const list = walk.usages.get(name) ?? [];
      list.push(path);
      walk.usages.set(name, list);
      if (isSchema(defs[name].properties) && !queued.has(name)) {
        queued.add(name);
        walk.objectDefs.push(name);
      }
      return;
    }
    for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
      const list = s[key];
      if (Array.isArray(list)) for (const b of list) if (isSchema(b)) descend(b, path, section);
    }
    if (isSchema(s.properties)) fieldsOf(s, path, section);
    if (isSchema(s.additionalProperties) && isSchema(s.additionalProperties.properties))
      fieldsOf(s.additionalProperties, `${path}.<name>`, section);
    if (isSchema(s.items)) descend(s.items, `${path}[]`, section);
  };

  const fieldsOf = (s: JsonSchema, prefix: string, section: string) => {
    const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
    for (const [name, prop] of Object.entries(s.properties as JsonSchema)) {
      if (!isSchema(prop)) continue;
      const path = prefix ? `${prefix}.${name}` : name;
      walk.fields.push({ path, anchor: anchorId(path), schema: prop, required: required.has(name), section });
      descend(prop, path, section);
    }
  };

  fieldsOf(schema, '', 'Document');
  // A `$defs` object used in one place is listed under that path (Step under `steps[]`);
  // one used in several places under its own name (RetryPolicy.maxAttempts).
  for (let i = 0; i < walk.objectDefs.length; i++) {
    const name = walk.objectDefs[i]!;
    const uses = counts.get(`${DEF_PREFIX}${name}`) ?? 0;
    const prefix = uses === 1 ? walk.usages.get(name)![0]! : name;
    fieldsOf(defs[name] as JsonSchema, prefix, name);
  }
  return walk;
}

function defLink(ref: string): string | undefined {
  if (!ref.startsWith(DEF_PREFIX)) return undefined;
  const name = refName(ref);
  return `[${name}](#${anchorId(name)})`;
}

const isShort = (value: unknown) =>
  typeof value !== 'object' || value === null || JSON.stringify(value).length <= 60;

/** Short examples inline in the facts list; longer ones as YAML blocks after it. */
function examplesBlock(examples: unknown[]): { inline?: string; blocks?: string } {
  if (examples.length === 0) return {};
  const label = `**Example${examples.length > 1 ? 's' : ''}:**`;
  if (examples.every(isShort)) return { inline: `${label} ${examples.map((e) => json(e)).join(', ')}` };
  return { blocks: [label, ...examples.map((e) => fence('yaml', stringify(e).trimEnd()))].join('\n\n') };
}

function describeField(f: SchemaField, defs: JsonSchema): string {
  const s = f.schema;
  const target =
    typeof s.$ref === 'string' && isSchema(defs[refName(s.$ref)])
      ? (defs[refName(s.$ref)] as JsonSchema)
      : undefined;
  const description = typeof s.description === 'string' ? s.description : target?.description;
  const lines = [`### ${code(f.path)} {#${f.anchor}}`, ''];
  if (typeof description === 'string') lines.push(prose(description), '');
  const facts = [`**Type:** ${typeOf(s, defLink)}`, `**Required:** ${f.required ? 'yes' : 'no'}`];
  if ('default' in s) facts.push(`**Default:** ${json(s.default)}`);
  const notes = constraintsOf(s);
  if (notes.length > 0) facts.push(`**Constraints:** ${notes.join('; ')}`);
  const examples = examplesBlock(examplesOf(s));
  if (examples.inline) facts.push(examples.inline);
  lines.push(facts.map((x) => `- ${x}`).join('\n'));
  if (examples.blocks) lines.push('', examples.blocks);
  return lines.join('\n');
}

export function workflowSchemaPage(schema: JsonSchema): string {
  const defs = isSchema(schema.$defs) ? schema.$defs : {};
  const { fields, usages, objectDefs } = collectSchemaFields(schema);
  if (fields.length === 0) throw new Error('workflow schema: no fields found');
  const scalarDefs = Object.keys(defs).filter((n) => !objectDefs.includes(n));
  const out: string[] = [
    generatedHeader('schema/workflow.schema.json'),
    '',
    '# Workflow document',
    '',
    `Every field of a workflow document, from the published JSON Schema ([${code('workflow.schema.json')}](/workflow.schema.json), ${code(String(schema.$id))}). ` +
      'Point `$schema` at it (JSON) or add `# yaml-language-server: $schema=<path or URL>` (YAML) and editors complete and check fields as you type. ' +
      'Fields marked *Required: no* may be left out; their default applies. Unknown fields are an error (`E_SCHEMA`).',
    '',
    `${text(String(schema.description ?? ''))}`,
    '',
    '## All fields',
    '',
    table(
      ['Field', 'Type', 'Required', 'Default'],
      fields.map((f) => [
        `[${code(f.path)}](#${f.anchor})`,
        typeOf(f.schema, defLink),
        f.required ? 'yes' : '',
        'default' in f.schema ? json(f.schema.default) : '',
      ]),
    ),
    '',
    '## Document',
    '',
    'The top level of a document.',
    '',
  ];
  for (const f of fields.filter((x) => x.section === 'Document')) out.push(describeField(f, defs), '');
  for (const name of objectDefs) {
    const def = defs[name] as JsonSchema;
    const used = usages.get(name) ?? [];
    out.push(`## ${name} {#${anchorId(name)}}`, '');
    if (typeof def.description === 'string') out.push(prose(def.description), '');
    out.push(`Used at: ${used.map((p) => `[${code(p)}](#${anchorId(p)})`).join(', ')}.`, '');
    for (const f of fields.filter((x) => x.section === name)) out.push(describeField(f, defs), '');
  }
  if (scalarDefs.length > 0) {
    out.push('## Types', '', 'Value types shared by several fields.', '');
    for (const name of scalarDefs) {
      const def = defs[name] as JsonSchema;
      out.push(`### ${name} {#${anchorId(name)}}`, '');
      if (typeof def.description === 'string') out.push(prose(def.description), '');
      const facts = [`**Type:** ${typeOf(def, defLink)}`];
      const notes = constraintsOf(def);
      if (notes.length > 0) facts.push(`**Constraints:** ${notes.join('; ')}`);
      const examples = examplesBlock(examplesOf(def));
      if (examples.inline) facts.push(examples.inline);
      const used = usages.get(name) ?? [];
      if (used.length > 0)
        facts.push(`**Used at:** ${used.map((p) => `[${code(p)}](#${anchorId(p)})`).join(', ')}`);
      out.push(facts.map((x) => `- ${x}`).join('\n'), '');
      if (examples.blocks) out.push(examples.blocks, '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

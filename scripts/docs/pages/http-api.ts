/**
 * The HTTP API reference: every operation of the OpenAPI 3.1 document that the server
 * serves at `/openapi.json` (parameters, request body, responses), and every schema.
 */
import {
  constraintsOf,
  isSchema,
  type JsonSchema,
  propertiesTable,
  refName,
  typeOf,
} from '../json-schema.js';
import { anchorId, code, generatedHeader, json, prose, table, text } from '../markdown.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

export interface HttpOperation {
  method: string;
  path: string;
  anchor: string;
  op: JsonSchema;
}

export function collectOperations(doc: JsonSchema): HttpOperation[] {
  const paths = isSchema(doc.paths) ? doc.paths : {};
  const out: HttpOperation[] = [];
  for (const [path, item] of Object.entries(paths)) {
    if (!isSchema(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (isSchema(op))
        out.push({ method: method.toUpperCase(), path, anchor: operationAnchor(method, path), op });
    }
  }
  return out;
}

export function operationAnchor(method: string, path: string): string {
  return anchorId(`${method} ${path}`);
}

function schemaAnchor(name: string): string {
  return `schema-${anchorId(name)}`;
}

const link = (ref: string): string | undefined =>
  ref.startsWith('#/components/schemas/') ? `[${refName(ref)}](#${schemaAnchor(refName(ref))})` : undefined;

/** Follows one `$ref` into components. */
function deref(doc: JsonSchema, value: unknown): JsonSchema {
  if (!isSchema(value) || typeof value.$ref !== 'string') return isSchema(value) ? value : {};
  const parts = value.$ref.replace(/^#\//, '').split('/');
  let node: unknown = doc;
  for (const p of parts) node = isSchema(node) ? node[p] : undefined;
  if (!isSchema(node)) throw new Error(`openapi: unresolvable $ref ${value.$ref}`);
  return node;
}

function contentSummary(content: unknown): string {
  if (!isSchema(content)) return '';
  return Object.entries(content)
    .map(([type, media]) => {
      const schema = isSchema(media) ? media.schema : undefined;
      return `${code(type)}${schema !== undefined ? `: ${typeOf(schema, link)}` : ''}`;
    })
    .join('<br>');
}

function operationSection(doc: JsonSchema, o: HttpOperation): string {
  const op = o.op;
  const out: string[] = [`### ${code(`${o.method} ${o.path}`)} {#${o.anchor}}`, ''];
  if (typeof op.summary === 'string')
    out.push(
      `**${text(op.summary)}.**${op.operationId ? ` Operation id ${code(String(op.operationId))}.` : ''}`,
      '',
    );
  if (typeof op.description === 'string') out.push(prose(op.description), '');
  const security = Array.isArray(op.security) ? op.security : undefined;
  if (security && security.length === 0) out.push('No API key needed.', '');
  const params = Array.isArray(op.parameters) ? op.parameters.map((p) => deref(doc, p)) : [];
  if (params.length > 0) {
    out.push(
      '**Parameters**',
      '',
      table(
        ['Name', 'In', 'Type', 'Required', 'Description'],
        params.map((p) => {
          const notes = constraintsOf(p.schema);
          const def = isSchema(p.schema) && 'default' in p.schema ? `default ${json(p.schema.default)}` : '';
          return [
            code(String(p.name)),
            String(p.in),
            typeOf(p.schema, link),
            p.required ? 'yes' : '',
            [
              typeof p.description === 'string' ? prose(p.description) : '',
              notes.length > 0 ? `(${notes.join('; ')})` : '',
              def,
            ]
              .filter(Boolean)
              .join(' '),
          ];
        }),
      ),
      '',
    );
  }
  if (op.requestBody !== undefined) {
    const body = deref(doc, op.requestBody);
    out.push(
      `**Request body** (${body.required ? 'required' : 'optional'}): ${contentSummary(body.content)}`,
      '',
    );
    if (isSchema(body.content)) {
      for (const media of Object.values(body.content)) {
        const s = isSchema(media) ? media.schema : undefined;
        if (isSchema(s) && s.$ref === undefined) {
          const t = propertiesTable(s, link);
          if (t) out.push(t, '');
        }
      }
    }
  }
  const responses = isSchema(op.responses) ? op.responses : {};
  out.push(
    '**Responses**',
    '',
    table(
      ['Status', 'Description', 'Body', 'Headers'],
      Object.entries(responses).map(([status, r]) => {
        const res = deref(doc, r);
        const headers = isSchema(res.headers)
          ? Object.entries(res.headers)
              .map(([h, v]) => {
                const hv = deref(doc, v);
                return `${code(h)}${typeof hv.description === 'string' ? `: ${prose(hv.description)}` : ''}`;
              })
              .join('<br>')
          : '';
        return [
          code(status),
          typeof res.description === 'string' ? prose(res.description) : '',
          contentSummary(res.content),
          headers,
        ];
      }),
    ),
    '',
  );
  return out.join('\n');
}

export function httpApiPage(doc: JsonSchema): string {
  const ops = collectOperations(doc);
  if (ops.length === 0) throw new Error('openapi: the document has no operations');
  const info = isSchema(doc.info) ? doc.info : {};
  const components = isSchema(doc.components) ? doc.components : {};
  const schemas = isSchema(components.schemas) ? components.schemas : {};
  const schemes = isSchema(components.securitySchemes) ? components.securitySchemes : {};
  const servers = Array.isArray(doc.servers) ? doc.servers.filter(isSchema) : [];
  const out: string[] = [
    generatedHeader('the OpenAPI document of packages/server (openApiDocument)'),
    '',
    '# HTTP API',
    '',
    `${text(String(info.title ?? 'API'))} ${code(String(info.version ?? ''))}, OpenAPI ${code(String(doc.openapi ?? ''))}. ` +
      '`orchestr8 serve` serves it (and this document at `GET /openapi.json`; a copy is [here](/openapi.json)).',
    '',
    typeof info.description === 'string' ? prose(info.description) : '',
    '',
    servers.length > 0 ? `Default server: ${servers.map((s) => code(String(s.url))).join(', ')}.` : '',
    '',
    '## Authentication',
    '',
    table(
      ['Scheme', 'Type', 'Details'],
      Object.entries(schemes).map(([name, s]) => {
        const scheme = isSchema(s) ? s : {};
        const details = [
          scheme.scheme ? `${code(String(scheme.scheme))}` : '',
          scheme.in ? `${code(String(scheme.name))} in ${String(scheme.in)}` : '',
          typeof scheme.description === 'string' ? prose(scheme.description) : '',
        ].filter(Boolean);
        return [code(name), String(scheme.type ?? ''), details.join(' · ')];
      }),
    ),
    '',
    '## Endpoints',
    '',
    table(
      ['Method and path', 'Summary'],
      ops.map((o) => [
        `[${code(`${o.method} ${o.path}`)}](#${o.anchor})`,
        typeof o.op.summary === 'string' ? text(o.op.summary) : '',
      ]),
    ),
    '',
    '## Operations',
    '',
  ];
  for (const o of ops) out.push(operationSection(doc, o), '');
  out.push('## Schemas', '');
  for (const [name, raw] of Object.entries(schemas)) {
    const s = isSchema(raw) ? raw : {};
    out.push(`### ${name} {#${schemaAnchor(name)}}`, '');
    if (typeof s.description === 'string') out.push(prose(s.description), '');
    const t = propertiesTable(s, link);
    if (t) out.push(t, '');
    else {
      out.push(`Type: ${typeOf(s, link)}.`, '');
    }
    if (Array.isArray(s.allOf)) {
      for (const part of s.allOf) {
        if (isSchema(part) && part.$ref === undefined) {
          const pt = propertiesTable(part, link);
          if (pt) out.push('With:', '', pt, '');
        }
      }
    }
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

/**
 * The agent reference: every agent a host registers out of the box (`builtinAgents` of
 * @orchestr8/agent-base and `standardAgents` of @orchestr8/agents), with its input and
 * output schemas.
 */
import type { Agent } from '@orchestr8/core';
import { isSchema, type JsonSchema, propertiesTable, schemaSummary } from '../json-schema.js';
import { anchorId, code, fence, generatedHeader, prose, table } from '../markdown.js';

export interface AgentGroup {
  title: string;
  /** Where the list comes from, e.g. "builtinAgents of @orchestr8/agent-base". */
  source: string;
  intro: string;
  agents: readonly Agent[];
}

/** The JSON Schema of an agent's input or output schema (zod schemas are converted). */
export function agentSchemaJson(agentId: string, schema: unknown): JsonSchema | undefined {
  if (schema === undefined || schema === null) return undefined;
  const maybeZod = schema as { safeParse?: unknown; toJSONSchema?: unknown };
  if (typeof maybeZod.safeParse === 'function') {
    if (typeof maybeZod.toJSONSchema === 'function') return (maybeZod.toJSONSchema as () => JsonSchema)();
    throw new Error(
      `agents: ${agentId} has a zod schema without toJSONSchema(); the reference cannot show it`,
    );
  }
  if (!isSchema(schema)) throw new Error(`agents: ${agentId} has a schema that is not an object`);
  return schema;
}

export function agentAnchor(id: string): string {
  return anchorId(id);
}

function schemaBlock(title: string, agentId: string, raw: unknown): string {
  const schema = agentSchemaJson(agentId, raw);
  if (schema === undefined)
    return `**${title}:** any JSON; the agent declares no schema, so it is not checked.`;
  const parts = [`**${title}**`, ''];
  const t = propertiesTable(schema);
  // Without a table, schemaSummary already shows the description.
  if (t && typeof schema.description === 'string') parts.push(prose(schema.description), '');
  parts.push(t ?? schemaSummary(schema));
  parts.push(
    '',
    `<details><summary>${title} as JSON Schema</summary>`,
    '',
    fence('json', JSON.stringify(schema, null, 2)),
    '',
    '</details>',
  );
  return parts.join('\n');
}

export function agentsPage(groups: readonly AgentGroup[]): string {
  const out: string[] = [
    generatedHeader('builtinAgents (packages/agent-base) and standardAgents (packages/agents)'),
    '',
    '# Agents',
    '',
    'The agents every host (`orchestr8 run`, `orchestr8 serve`) registers. A step names one in `agent` (`agent: "@orchestr8/echo"`, or `{id, version, config}`). ' +
      'Inputs are checked against the input schema before the agent runs, and outputs against the output schema after; a mismatch is a `VALIDATION` error, never retried. ' +
      'To write your own, see [Writing an agent](../guides/writing-an-agent.md).',
    '',
    table(
      ['Agent', 'Version', 'From', 'What it does'],
      groups.flatMap((g) =>
        g.agents.map((a) => [
          `[${code(a.id)}](#${agentAnchor(a.id)})`,
          a.version ? code(a.version) : '',
          g.title,
          a.description ? prose(a.description) : '',
        ]),
      ),
    ),
    '',
  ];
  for (const g of groups) {
    if (g.agents.length === 0) throw new Error(`agents: ${g.source} is empty`);
    out.push(`## ${g.title}`, '', `${prose(g.intro)} (${prose(g.source)}.)`, '');
    for (const a of g.agents) {
      out.push(`### ${code(a.id)} {#${agentAnchor(a.id)}}`, '');
      if (a.description) out.push(prose(a.description), '');
      const facts = [];
      if (a.version) facts.push(`**Version:** ${code(a.version)}`);
      if (a.secretFields && a.secretFields.length > 0)
        facts.push(
          `**Secret input fields** (redacted in the journal): ${a.secretFields.map((f) => code(f)).join(', ')}`,
        );
      if (typeof a.target === 'function')
        facts.push('**Circuit breaker:** keyed by agent and target (see the input).');
      if (facts.length > 0) out.push(facts.map((f) => `- ${f}`).join('\n'), '');
      out.push(schemaBlock('Input', a.id, a.inputSchema), '');
      out.push(schemaBlock('Output', a.id, a.outputSchema), '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

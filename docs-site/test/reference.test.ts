/**
 * The reference pages on disk are exactly what the generator makes from the code now, and
 * they cover everything: every field of the JSON Schema, every command and option, every
 * endpoint, every error code, every agent. Regenerate with `pnpm docs:gen`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinAgents } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import { ErrorCode } from '@orchestr8/common';
import { EventType } from '@orchestr8/core';
import { DiagnosticCode } from '@orchestr8/schema';
import { openApiDocument, ProblemCode } from '@orchestr8/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { createProgram } from '../../packages/cli/src/program.js';
import {
  compareWithDisk,
  type GeneratedFile,
  generateReference,
  REFERENCE_DIR,
  ROOT,
} from '../../scripts/docs/generate.js';

let files: GeneratedFile[];
const page = (name: string) => files.find((f) => f.path === `${REFERENCE_DIR}/${name}`)!.content;

beforeAll(async () => {
  files = (await generateReference()).files;
});

/** Every property name anywhere in a JSON Schema (not inside `examples` or `default`: data, not fields). */
function propertyNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) propertyNames(n, out);
  else if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, unknown>;
    if (typeof o.properties === 'object' && o.properties !== null)
      for (const k of Object.keys(o.properties)) out.add(k);
    for (const [k, v] of Object.entries(o)) if (k !== 'examples' && k !== 'default') propertyNames(v, out);
  }
  return out;
}

describe('the generated reference', () => {
  it('on disk equals a fresh generation (run `pnpm docs:gen` after changing the code)', () => {
    expect(compareWithDisk(files)).toEqual([]);
  });

  it('lists every field of the workflow JSON Schema under its own heading', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/workflow.schema.json'), 'utf8')) as unknown;
    const headings = [...page('workflow.md').matchAll(/^### `([^`]+)`/gm)].map((m) => m[1]!);
    for (const name of propertyNames(schema)) {
      expect(
        headings.some((h) => h === name || h.endsWith(`.${name}`)),
        `field ${name}`,
      ).toBe(true);
    }
  });

  it('lists every CLI command and option', () => {
    const cli = page('cli.md');
    const visit = (cmd: ReturnType<typeof createProgram>, prefix: string) => {
      for (const sub of cmd.commands as ReturnType<typeof createProgram>[]) {
        const path = `${prefix}${sub.name()}`;
        expect(cli, `command ${path}`).toContain(`## \`orchestr8 ${path}\``);
        for (const o of sub.options) expect(cli, `${path} ${o.flags}`).toContain(`\`${o.flags}\``);
        visit(sub, `${path} `);
      }
    };
    visit(createProgram(), '');
  });

  it('lists every HTTP operation of the OpenAPI document', () => {
    const http = page('http-api.md');
    const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
    for (const [path, item] of Object.entries(paths)) {
      for (const method of Object.keys(item))
        expect(http).toContain(`### \`${method.toUpperCase()} ${path}\``);
    }
  });

  it('lists every error, diagnostic and problem code, and every event type', () => {
    const errors = page('errors.md');
    for (const code of [
      ...Object.values(ErrorCode),
      ...Object.values(DiagnosticCode),
      ...Object.values(ProblemCode),
    ])
      expect(errors, code).toContain(`\`${code}\``);
    const events = page('events.md');
    for (const t of Object.values(EventType)) expect(events, t).toContain(`\`${t}\``);
  });

  it('lists every metric', async () => {
    const { createMetrics } = await import('@orchestr8/observability/metrics');
    const metrics = page('metrics.md');
    for (const m of await createMetrics().registry.getMetricsAsJSON())
      expect(metrics).toContain(`\`${m.name}\``);
  });

  it('lists every built-in and standard agent with its schemas', () => {
    const agents = page('agents.md');
    for (const a of [...builtinAgents, ...standardAgents]) expect(agents, a.id).toContain(`### \`${a.id}\``);
  });
});

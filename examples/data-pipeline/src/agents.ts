/** The example's own agent: renders the aggregate as a markdown report and writes it to a file. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { defineAgent } from '@orchestr8/agent-base';

export interface SourceStatus {
  name: string;
  /** The fetch step's status: completed, or failed (it has `onError: continue`). */
  status: string;
  error?: string | null;
}

export interface WriteReportInput {
  /** Relative to the working directory. */
  path: string;
  title: string;
  summary: Record<string, unknown>;
  sources: SourceStatus[];
}

export interface WriteReportOutput {
  path: string;
  bytes: number;
  /** True when a source was missing: the report says so at the top. */
  partial: boolean;
  missing: string[];
}

export const writeReport = defineAgent<WriteReportInput, WriteReportOutput>({
  id: '@example/write-report',
  version: '1.0.0',
  description: 'Writes a markdown report of the aggregate, noting the sources that could not be read.',
  inputSchema: {
    type: 'object',
    required: ['path', 'title', 'summary', 'sources'],
    properties: {
      path: { type: 'string', minLength: 1 },
      title: { type: 'string' },
      summary: { type: 'object' },
      sources: { type: 'array', items: { type: 'object', required: ['name', 'status'] } },
    },
  },
  async execute(input) {
    const missing = input.sources.filter((s) => s.status !== 'completed').map((s) => s.name);
    const markdown = renderReport(input, missing);
    const path = resolve(input.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, markdown);
    return { path, bytes: Buffer.byteLength(markdown), partial: missing.length > 0, missing };
  },
});

export function renderReport(input: WriteReportInput, missing: string[]): string {
  const lines = [`# ${input.title}`, ''];
  if (missing.length > 0) {
    lines.push(
      `> **Partial report:** ${missing.length} of ${input.sources.length} sources could not be read (${missing.join(', ')}); the figures that depend on them are missing.`,
      '',
    );
  }
  lines.push('| metric | value |', '| --- | --- |');
  for (const [k, v] of Object.entries(input.summary))
    lines.push(`| ${k} | ${v === null || v === undefined ? '—' : String(v)} |`);
  lines.push('', '## Sources', '', '| source | status | note |', '| --- | --- | --- |');
  for (const s of input.sources) lines.push(`| ${s.name} | ${s.status} | ${s.error ?? ''} |`);
  return `${lines.join('\n')}\n`;
}

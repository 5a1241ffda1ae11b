/**
 * Every workflow written in the docs is a real one: each snippet is validated exactly as
 * `orchestr8 validate` would, and the runnable ones (`yaml workflow run`) are run with the
 * engine, the built-in and standard agents and a memory store. See scripts/docs/snippets.ts
 * for how snippets are found and tagged.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtinAgents, createAgentRegistry, isAgent } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import { type Agent, createEngine, createMemoryStore } from '@orchestr8/core';
import { formatDiagnostic, loadWorkflow } from '@orchestr8/schema';
import { loadWorkflowTestFile, runWorkflowTest } from '@orchestr8/testing';
import { describe, expect, it } from 'vitest';
import { listPages } from '../../scripts/docs/links.js';
import { type WorkflowSnippet, workflowSnippets } from '../../scripts/docs/snippets.js';

const SITE = fileURLToPath(new URL('..', import.meta.url));

const snippets: WorkflowSnippet[] = listPages(SITE).flatMap((page) =>
  workflowSnippets(readFileSync(join(SITE, page), 'utf8'), page),
);

/** Files the guides include with `<<< @/snippets/...`: workflows, test files, agents. */
const SNIPPET_DIR = join(SITE, 'snippets');
const snippetFiles = readdirSync(SNIPPET_DIR).sort();
const workflowFiles = snippetFiles.filter(
  (f) => /\.(ya?ml|json)$/.test(f) && !/\.test\.(ya?ml|json)$/.test(f),
);
const testFiles = snippetFiles.filter((f) => /\.test\.(ya?ml|json)$/.test(f));

async function agentsOf(modules: readonly string[]): Promise<Agent[]> {
  const out: Agent[] = [];
  for (const m of modules) {
    const mod = (await import(pathToFileURL(join(SITE, m)).href)) as Record<string, unknown>;
    for (const v of Object.values(mod)) if (isAgent(v)) out.push(v);
  }
  return out;
}

const where = (s: WorkflowSnippet) => `${s.file}:${s.line} (${s.origin})`;

describe('workflow snippets in the docs', () => {
  it('are found in the quickstart, the concepts and the guides', () => {
    const files = new Set(snippets.map((s) => s.file));
    expect(files).toContain('quickstart.md');
    expect([...files].some((f) => f.startsWith('concepts/'))).toBe(true);
    expect(snippets.filter((s) => s.run).length).toBeGreaterThan(5);
  });

  it.each(snippets.map((s) => [where(s), s] as const))(
    '%s is valid, and runs as documented',
    async (_, s) => {
      const extra = await agentsOf(s.agentModules);
      const registry = createAgentRegistry([...builtinAgents, ...standardAgents]);
      for (const a of extra) registry.register(a, { replace: true });
      const loaded = loadWorkflow(s.text, {
        format: s.format,
        filename: s.file,
        knownAgents: registry.list().map((a) => a.id),
      });
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
      if (s.invalidCodes) {
        expect(loaded.ok, `${where(s)} should be invalid`).toBe(false);
        expect(errors.map((d) => d.code)).toEqual(expect.arrayContaining(s.invalidCodes));
        return;
      }
      expect(errors.map(formatDiagnostic), `${where(s)} should be valid`).toEqual([]);
      if (!s.run) return;
      // The docs' examples run where the operator granted the variables they declare.
      const doc = loaded.document as
        | { context?: { environment?: string[]; secretRefs?: object } }
        | undefined;
      const env = [
        ...(doc?.context?.environment ?? []),
        ...Object.values(doc?.context?.secretRefs ?? {}).map((r) => (r as { env: string }).env),
      ];
      const engine = createEngine({
        registry,
        store: createMemoryStore(),
        cancelPollMs: 0,
        capabilities: { env },
      });
      const result = await engine.execute(loaded.workflow!, { inputs: s.inputs });
      expect(result.status, `${where(s)} should end ${s.expectStatus}; error: ${result.error?.message}`).toBe(
        s.expectStatus,
      );
      if (s.expect !== undefined) expect(result, `${where(s)} result`).toMatchObject(s.expect as object);
    },
  );
});

describe('files in docs-site/snippets', () => {
  it.each(workflowFiles)('%s is a valid workflow', (f) => {
    const loaded = loadWorkflow(readFileSync(join(SNIPPET_DIR, f), 'utf8'), {
      filename: `snippets/${f}`,
      knownAgents: [...builtinAgents, ...standardAgents].map((a) => a.id),
    });
    expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
  });

  it.each(testFiles)('%s passes, as `orchestr8 test` would run it', async (f) => {
    const file = await loadWorkflowTestFile(join(SNIPPET_DIR, f));
    expect(file.problems).toEqual([]);
    expect(file.cases.length).toBeGreaterThan(0);
    for (const tc of file.cases) {
      const outcome = await runWorkflowTest(tc);
      expect(outcome.failures, `${f}: ${tc.name}`).toEqual([]);
    }
  });
});

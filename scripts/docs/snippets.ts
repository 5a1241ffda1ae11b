/**
 * Finds the workflow documents written in the docs, so that the docs tests can validate
 * them (and run the runnable ones). A workflow snippet is:
 *
 * - a ```yaml or ```json block whose info string has the word `workflow`, or whose text
 *   looks like a document (top-level `version` and `steps`);
 * - a heredoc in a ```sh block that writes a `.yaml`/`.yml`/`.json` file
 *   (`cat > greet.yaml <<'EOF'` ... `EOF`) and looks like a document.
 *
 * Words after the language say what to expect:
 *
 * | word                     | meaning                                                        |
 * | ------------------------ | -------------------------------------------------------------- |
 * | `workflow`               | a complete document: it must be valid                          |
 * | `run`                    | also run it (built-in and standard agents, memory store); it must complete |
 * | `run=failed`             | run it; it must fail                                           |
 * | `inputs={"name":"Ada"}`  | the inputs to run it with (JSON)                               |
 * | `expect={"outputs":{}}`  | the result must match this (JSON; a partial match)             |
 * | `agents=snippets/x.ts`   | also register the agents this module (under docs-site/) exports |
 * | `invalid=E_CYCLE,E_...`  | it must be invalid, with at least these diagnostic codes       |
 * | `fragment`               | not a complete document: not checked                           |
 */

export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  words: string[];
  body: string;
}

export interface WorkflowSnippet {
  file: string;
  line: number;
  format: 'yaml' | 'json';
  text: string;
  run: boolean;
  expectStatus: 'completed' | 'failed';
  inputs: Record<string, unknown>;
  /** A partial ExecutionResult the run must match. */
  expect: unknown;
  agentModules: string[];
  invalidCodes: string[] | undefined;
  /** Where it came from, for messages: `fence` or `heredoc greet.yaml`. */
  origin: string;
}

/** Fenced code blocks of a markdown file (``` or ~~~, three or more). */
export function extractCodeBlocks(markdown: string, file: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, marker, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(marker!) && l.trim().replace(/[`~]/g, '') === '') break;
      body.push(indent && l.startsWith(indent!) ? l.slice(indent!.length) : l);
    }
    const words = splitInfo(info ?? '');
    blocks.push({
      file,
      line: i + 1,
      lang: (words.shift() ?? '').toLowerCase(),
      words,
      body: body.join('\n'),
    });
    i = j;
  }
  return blocks;
}

/**
 * The words of a fence info string; a `name=` followed by JSON (`{...}`, `[...]`, `"..."`)
 * takes the whole JSON value, spaces included.
 */
export function splitInfo(info: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < info.length) {
    while (i < info.length && /\s/.test(info[i]!)) i++;
    if (i >= info.length) break;
    let j = i;
    while (j < info.length && !/\s/.test(info[j]!) && info[j] !== '=') j++;
    if (info[j] === '=' && /[{["]/.test(info[j + 1] ?? '')) {
      let depth = 0;
      let inString = false;
      let k = j + 1;
      for (; k < info.length; k++) {
        const c = info[k]!;
        if (inString) {
          if (c === '\\') k++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') depth--;
        if (!inString && depth === 0) break;
      }
      j = k + 1;
    } else {
      while (j < info.length && !/\s/.test(info[j]!)) j++;
    }
    words.push(info.slice(i, j));
    i = j;
  }
  return words;
}

const looksLikeYamlWorkflow = (text: string) => /^version\s*:/m.test(text) && /^steps\s*:/m.test(text);

function looksLikeJsonWorkflow(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && 'version' in v && 'steps' in v;
  } catch {
    return false;
  }
}

function snippetFrom(
  block: CodeBlock,
  text: string,
  format: 'yaml' | 'json',
  origin: string,
  line: number,
): WorkflowSnippet {
  const attr = (name: string) => block.words.find((w) => w === name || w.startsWith(`${name}=`));
  const value = (name: string) => attr(name)?.split('=').slice(1).join('=');
  const run = attr('run');
  const jsonAttr = (name: string): unknown => {
    const text = value(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`${block.file}:${block.line}: ${name}=${text} is not JSON`);
    }
  };
  const inputs = (jsonAttr('inputs') ?? {}) as Record<string, unknown>;
  const expect = jsonAttr('expect');
  const invalid = value('invalid');
  return {
    file: block.file,
    line,
    format,
    text,
    run: run !== undefined,
    expectStatus: run === 'run=failed' ? 'failed' : 'completed',
    inputs,
    expect,
    agentModules: (value('agents') ?? '').split(',').filter(Boolean),
    invalidCodes: invalid === undefined ? undefined : invalid.split(',').filter(Boolean),
    origin,
  };
}

/** The workflow snippets of one markdown file. */
export function workflowSnippets(markdown: string, file: string): WorkflowSnippet[] {
  const out: WorkflowSnippet[] = [];
  for (const block of extractCodeBlocks(markdown, file)) {
    if (block.words.includes('fragment')) continue;
    const tagged = block.words.includes('workflow');
    if (block.lang === 'yaml' || block.lang === 'yml') {
      if (tagged || looksLikeYamlWorkflow(block.body))
        out.push(snippetFrom(block, block.body, 'yaml', 'fence', block.line));
    } else if (block.lang === 'json' || block.lang === 'jsonc') {
      if (tagged || looksLikeJsonWorkflow(block.body))
        out.push(snippetFrom(block, block.body, 'json', 'fence', block.line));
    } else if (block.lang === 'sh' || block.lang === 'bash' || block.lang === 'shell') {
      const lines = block.body.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const m = /cat\s+>\s*(\S+\.(ya?ml|json))\s+<<-?\s*'?(\w+)'?/.exec(lines[i]!);
        if (!m) continue;
        const end = lines.findIndex((l, k) => k > i && l.trim() === m[3]);
        if (end < 0) throw new Error(`${file}:${block.line + i + 1}: heredoc ${m[3]} is not closed`);
        const text = lines.slice(i + 1, end).join('\n');
        const format = m[2] === 'json' ? 'json' : 'yaml';
        if (tagged || (format === 'yaml' ? looksLikeYamlWorkflow(text) : looksLikeJsonWorkflow(text)))
          out.push(snippetFrom(block, text, format, `heredoc ${m[1]}`, block.line + i + 2));
        i = end;
      }
    }
  }
  return out;
}

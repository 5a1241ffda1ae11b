/**
 * A fast check of the internal links of the docs site: every link to a page, a public
 * file or an anchor must resolve. VitePress's build also fails on links to missing pages;
 * this one runs in the unit tests and checks anchors too (VitePress does not).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { slugify } from './markdown.js';
import { extractCodeBlocks } from './snippets.js';

export interface LinkProblem {
  file: string;
  line: number;
  link: string;
  problem: string;
}

/** Every page of the site (relative to `srcDir`, posix separators). */
export function listPages(srcDir: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'public' || e.name === 'test')
        continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.name.endsWith('.md') && e.name !== 'README.md')
        out.push(relative(srcDir, p).split('\\').join('/'));
    }
  };
  visit(srcDir);
  return out.sort();
}

/** The lines of a markdown file with its fenced code blocks blanked (links and headings there are not real). */
function linesOutsideCode(markdown: string): string[] {
  const lines = markdown.split('\n');
  for (const b of extractCodeBlocks(markdown, '')) {
    const n = b.body.split('\n').length + 2;
    for (let i = b.line - 1; i < b.line - 1 + n && i < lines.length; i++) lines[i] = '';
  }
  return lines;
}

/** The anchors a page defines: heading slugs, explicit `{#id}`s and HTML `id`s. */
export function anchorsOf(markdown: string): Set<string> {
  const ids = new Set<string>();
  const counts = new Map<string, number>();
  for (const line of linesOutsideCode(markdown)) {
    const h = /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (h) {
      const explicit = /\{#([^}]+)\}\s*$/.exec(h[1]!);
      if (explicit) ids.add(explicit[1]!);
      else {
        const plain = h[1]!
          .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
          .replace(/`([^`]*)`/g, '$1')
          .replace(/[*_]/g, '')
          .replace(/<[^>]+>/g, '');
        const base = slugify(plain);
        const n = counts.get(base) ?? 0;
        counts.set(base, n + 1);
        ids.add(n === 0 ? base : `${base}-${n}`);
      }
    }
    for (const m of line.matchAll(/\bid="([^"]+)"/g)) ids.add(m[1]!);
  }
  return ids;
}

/** Resolves a site path (`/reference/cli`, `./x.md`, `../a/`) to a page or public file. */
function resolveTarget(srcDir: string, fromPage: string, target: string): { page?: string; file?: string } {
  const path = target.startsWith('/')
    ? target.slice(1)
    : posix.normalize(posix.join(posix.dirname(fromPage), target));
  const candidates =
    path === '' || path.endsWith('/')
      ? [`${path}index.md`]
      : [path, `${path}.md`, `${path.replace(/\.html$/, '')}.md`];
  for (const c of candidates) {
    if (c.endsWith('.md') && existsSync(join(srcDir, c))) return { page: c };
  }
  if (existsSync(join(srcDir, 'public', path))) return { file: path };
  return {};
}

export function checkLinks(srcDir: string): LinkProblem[] {
  const pages = listPages(srcDir);
  const sources = new Map(pages.map((p) => [p, readFileSync(join(srcDir, p), 'utf8')]));
  const anchors = new Map<string, Set<string>>();
  const anchorsFor = (page: string) => {
    let a = anchors.get(page);
    if (!a) {
      a = anchorsOf(sources.get(page) ?? readFileSync(join(srcDir, page), 'utf8'));
      anchors.set(page, a);
    }
    return a;
  };
  const problems: LinkProblem[] = [];
  for (const page of pages) {
    const lines = linesOutsideCode(sources.get(page)!).map((l) => l.replace(/`[^`]*`/g, '``'));
    lines.forEach((line, i) => {
      const links = [
        ...[...line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!),
        ...[...line.matchAll(/\bhref="([^"]+)"/g)].map((m) => m[1]!),
      ];
      for (const link of links) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, mailto:, ...
        const [target = '', anchor] = link.split('#');
        let page2: string | undefined = page;
        if (target !== '') {
          const r = resolveTarget(srcDir, page, decodeURI(target));
          if (r.file) continue;
          page2 = r.page;
          if (!page2) {
            problems.push({ file: page, line: i + 1, link, problem: 'no such page or file' });
            continue;
          }
        }
        if (anchor && !anchorsFor(page2).has(decodeURIComponent(anchor)))
          problems.push({ file: page, line: i + 1, link, problem: `no anchor #${anchor} in ${page2}` });
      }
    });
  }
  return problems;
}

import { defineConfig } from 'vitepress';

/**
 * The orchestr8 docs site (VitePress). `pnpm docs:dev` serves it, `pnpm docs:build` builds
 * it into docs-site/.vitepress/dist and fails on any dead internal link. Everything is
 * local: no web fonts, analytics or hosted search are fetched, at build or in the browser.
 */
export default defineConfig({
  title: 'orchestr8',
  description: 'Declarative, durable workflows for TypeScript and Node.js',
  lang: 'en',
  cleanUrls: false,
  lastUpdated: false,
  ignoreDeadLinks: false,
  // test/ holds the docs' own tests (some are included in pages with <<<), snippets/ the
  // files the guides include: neither is a page.
  srcExclude: ['test/**', 'snippets/**', '**/README.md'],
  markdown: { theme: { light: 'github-light', dark: 'github-dark' } },
  themeConfig: {
    search: { provider: 'local' },
    outline: { level: [2, 3] },
    nav: [
      { text: 'Quickstart', link: '/quickstart' },
      { text: 'Concepts', link: '/concepts/documents' },
      { text: 'Guides', link: '/guides/writing-an-agent' },
      { text: 'Reference', link: '/reference/' },
    ],
    sidebar: [
      { text: 'Start', items: [{ text: 'Quickstart', link: '/quickstart' }] },
      {
        text: 'Concepts',
        items: [
          { text: 'Workflow documents', link: '/concepts/documents' },
          { text: 'Steps and dependencies', link: '/concepts/steps' },
          { text: 'Templates and conditions', link: '/concepts/templates-and-conditions' },
          { text: 'forEach', link: '/concepts/foreach' },
          { text: 'Resilience policies', link: '/concepts/resilience' },
          { text: 'Errors and codes', link: '/concepts/errors' },
          { text: 'The journal', link: '/concepts/journal' },
          { text: 'Durability', link: '/concepts/durability' },
          { text: 'Idempotency', link: '/concepts/idempotency' },
          { text: 'Cancel, resume, retry, rerun', link: '/concepts/operations' },
          { text: 'Triggers', link: '/concepts/triggers' },
          { text: 'Waits, signals and approvals', link: '/concepts/waits' },
          { text: 'Event streams', link: '/concepts/streams' },
          { text: 'Scale-out with PostgreSQL', link: '/concepts/scale-out' },
          { text: 'Observability', link: '/concepts/observability' },
          { text: 'Security and trust', link: '/concepts/security' },
        ],
      },
      {
        text: 'Guides',
        items: [
          { text: 'Writing an agent', link: '/guides/writing-an-agent' },
          { text: 'Testing workflows', link: '/guides/testing' },
          { text: 'Running in production', link: '/guides/production' },
          { text: 'Local service', link: '/guides/local-service' },
          { text: 'The console', link: '/guides/console' },
          { text: 'AI assistants', link: '/guides/ai-assistants' },
          { text: 'Embedding orchestr8', link: '/guides/embedding' },
          { text: 'The examples, explained', link: '/guides/examples' },
          { text: 'The reference workflows', link: '/guides/reference-workflows' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: 'Overview', link: '/reference/' },
          { text: 'Workflow document', link: '/reference/workflow' },
          { text: 'CLI', link: '/reference/cli' },
          { text: 'HTTP API', link: '/reference/http-api' },
          { text: 'Error codes', link: '/reference/errors' },
          { text: 'Agents', link: '/reference/agents' },
          { text: 'Journal events', link: '/reference/events' },
          { text: 'Metrics', link: '/reference/metrics' },
        ],
      },
      {
        text: 'Contributing',
        items: [
          { text: 'Architecture', link: '/contributing/architecture' },
          { text: 'Performance', link: '/contributing/performance' },
          { text: 'Releases', link: '/contributing/release' },
        ],
      },
    ],
  },
});

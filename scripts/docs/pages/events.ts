/**
 * The journal/event reference: every `EventType` the engine journals and publishes.
 */
import { code, generatedHeader, prose, table } from '../markdown.js';
import type { CodeDoc } from './errors.js';

export function eventsPage(events: CodeDoc[], entryFields: string | undefined): string {
  if (events.length === 0) throw new Error('events: EventType has no members');
  const out = [
    generatedHeader('EventType (packages/core/src/events.ts)'),
    '',
    '# Journal events',
    '',
    'Every journal entry has a `type`; the engine also publishes each one as an event (`engine.events.subscribe`, the `/executions/{id}/events` and `/events` streams). ' +
      'See [The journal](../concepts/journal.md) for how entries are numbered, capped and redacted.',
    '',
    table(
      ['Type', 'Constant', 'Meaning'],
      events.map((e) => [
        `<span id="${e.value.replace(/[^a-z0-9]+/g, '-')}"></span>${code(e.value)}`,
        code(`EventType.${e.name}`),
        prose(e.description),
      ]),
    ),
    '',
  ];
  if (entryFields)
    out.push(
      '## Entry fields',
      '',
      'One entry, as the journal commands and the API return it:',
      '',
      entryFields,
      '',
    );
  return `${out.join('\n').trimEnd()}\n`;
}

/**
 * The CLI reference: every command, argument and option of the commander tree that
 * `createProgram()` builds (the same tree `orchestr8` runs), plus the exit codes.
 */
import type { createProgram } from '../../../packages/cli/src/program.js';
import { anchorId, code, fence, generatedHeader, json, prose, table, text } from '../markdown.js';

type Command = ReturnType<typeof createProgram>;

export interface CliCommandInfo {
  /** `run`, or `agent serve` for a nested command. */
  path: string;
  anchor: string;
  command: Command;
}

/** Every command below the program, depth first, in the order they were registered. */
export function collectCommands(program: Command): CliCommandInfo[] {
  const out: CliCommandInfo[] = [];
  const visit = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands as Command[]) {
      if ((sub as unknown as { _hidden?: boolean })._hidden) continue;
      const path = prefix ? `${prefix} ${sub.name()}` : sub.name();
      out.push({ path, anchor: anchorId(path), command: sub });
      visit(sub, path);
    }
  };
  visit(program, '');
  return out;
}

/** The text `addHelpText('after' | 'before', ...)` adds to a command's help. */
function extraHelp(cmd: Command): { before: string; after: string } {
  let captured = '';
  cmd.configureOutput({
    writeOut: (s) => {
      captured += s;
    },
    getOutHelpWidth: () => 100,
    getOutHasColors: () => false,
  });
  cmd.outputHelp();
  const main = cmd.helpInformation();
  const at = captured.indexOf(main);
  if (at < 0) throw new Error(`cli: cannot separate the extra help text of "${cmd.name()}"`);
  return { before: captured.slice(0, at).trim(), after: captured.slice(at + main.length).trim() };
}

function optionsTable(cmd: Command): string | undefined {
  const help = cmd.createHelp();
  const options = help.visibleOptions(cmd);
  if (options.length === 0) return undefined;
  return table(
    ['Option', 'Description', 'Default'],
    options.map((o) => {
      const notes: string[] = [];
      if (o.argChoices) notes.push(`one of ${o.argChoices.map((c) => code(c)).join(', ')}`);
      if (o.envVar) notes.push(`environment variable ${code(o.envVar)}`);
      if (o.mandatory) notes.push('required');
      const def =
        o.defaultValueDescription !== undefined
          ? text(o.defaultValueDescription)
          : o.defaultValue === undefined || (Array.isArray(o.defaultValue) && o.defaultValue.length === 0)
            ? ''
            : typeof o.defaultValue === 'string'
              ? code(o.defaultValue)
              : json(o.defaultValue);
      const desc = [prose(o.description), notes.length > 0 ? `(${notes.join('; ')})` : ''].filter(Boolean);
      return [code(o.flags), desc.join(' '), def];
    }),
  );
}

function argumentsTable(cmd: Command): string | undefined {
  const args = cmd.createHelp().visibleArguments(cmd);
  if (args.length === 0) return undefined;
  return table(
    ['Argument', 'Required', 'Description', 'Default'],
    args.map((a) => [
      code(`${a.name()}${a.variadic ? '...' : ''}`),
      a.required ? 'yes' : 'no',
      prose(a.description),
      a.defaultValue === undefined ? '' : json(a.defaultValue),
    ]),
  );
}

export function cliPage(
  program: Command,
  exitCodes: { name: string; value: number; doc?: string }[],
): string {
  const commands = collectCommands(program);
  if (commands.length === 0) throw new Error('cli: createProgram() has no commands');
  const name = program.name();
  const out: string[] = [
    generatedHeader('the commander definitions of packages/cli (createProgram)'),
    '',
    `# CLI: ${code(name)}`,
    '',
    prose(program.description()),
    '',
    'From a clone of the repository, run it as `pnpm orchestr8 <command>`; once linked or installed, as `orchestr8 <command>`. ' +
      'Every command prints its own help with `--help`.',
    '',
    fence(
      'text',
      `${name} ${program
        .createHelp()
        .commandUsage(program)
        .replace(/^\S+\s*/, '')}`,
    ),
    '',
    '## Commands',
    '',
    table(
      ['Command', 'What it does'],
      commands.map((c) => [`[${code(`${name} ${c.path}`)}](#${c.anchor})`, prose(c.command.description())]),
    ),
    '',
    '## Global options',
    '',
    optionsTable(program) ?? 'None.',
    '',
  ];
  for (const c of commands) {
    const cmd = c.command;
    const extra = extraHelp(cmd);
    out.push(`## ${code(`${name} ${c.path}`)} {#${c.anchor}}`, '', prose(cmd.description()), '');
    const usage = cmd.createHelp().commandUsage(cmd);
    out.push(fence('text', usage), '');
    if (extra.before) out.push(fence('text', extra.before), '');
    const args = argumentsTable(cmd);
    if (args) out.push('**Arguments**', '', args, '');
    const opts = optionsTable(cmd);
    if (opts) out.push('**Options**', '', opts, '');
    if (cmd.commands.length > 0) {
      out.push(
        '**Subcommands:** ' +
          (cmd.commands as Command[])
            .map((s) => `[${code(s.name())}](#${anchorId(`${c.path} ${s.name()}`)})`)
            .join(', '),
        '',
      );
    }
    if (extra.after) out.push(fence('text', extra.after), '');
  }
  out.push('## Exit codes {#exit-codes}', '', 'The process exit codes, as `ExitCode` in packages/cli.', '');
  out.push(
    table(
      ['Code', 'Name', 'Meaning'],
      exitCodes.map((e) => [code(String(e.value)), code(e.name), e.doc ? prose(e.doc) : '']),
    ),
    '',
    'Each command’s section above says which codes it uses and when.',
  );
  return `${out.join('\n').trimEnd()}\n`;
}

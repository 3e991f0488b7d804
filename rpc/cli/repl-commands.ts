/**
 * The REPL's own commands: a line starting with `/` is handled by the CLI, never sent to the
 * model. `//text` sends `/text` as a message.
 */

export const REPL_HELP = `Commands (handled here, never sent to the model):
  /help          this list
  /new           start a new conversation
  /id            show the conversation's id (continue it later with mai chat -c ID)
  /exit, /quit   leave (Ctrl-D too)
Ctrl-C cancels an answer. A message that starts with / is sent by typing it as //…`;

export type ReplLine =
  | { kind: 'empty' }
  | { kind: 'message'; text: string }
  | { kind: 'help' | 'new' | 'id' | 'exit' }
  | { kind: 'unknown'; command: string };

export function parseReplLine(line: string): ReplLine {
  const text = line.trim();
  if (text === '') return { kind: 'empty' };
  if (text.startsWith('//')) return { kind: 'message', text: text.slice(1) };
  if (!text.startsWith('/')) return { kind: 'message', text };
  const command = text.split(/\s+/, 1)[0]!.toLowerCase();
  switch (command) {
    case '/help':
    case '/?':
      return { kind: 'help' };
    case '/new':
      return { kind: 'new' };
    case '/id':
      return { kind: 'id' };
    case '/exit':
    case '/quit':
      return { kind: 'exit' };
    default:
      return { kind: 'unknown', command };
  }
}

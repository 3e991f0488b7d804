/** `mai conversations [list] | show ID | delete ID`: the stored conversations, over conversations/*. */
import { ConversationsDeleteRequest, ConversationsGetRequest, ConversationsListRequest, type ConversationsGetResult, type ConversationsListResult } from '../mai-protocol.ts';
import { clientOptions, parseCommandArgs, UsageError, type Command } from './args.ts';
import { withClient, writeOut } from './common.ts';
import { table } from './format.ts';

const options = { ...clientOptions, json: { type: 'boolean' } } as const;

function formatList(result: ConversationsListResult): string {
  if (result.conversations.length === 0) return '(no conversations yet: `mai chat` starts one)';
  const rows = result.conversations.map((c) => [c.id, String(c.messages), c.updatedAt, c.error ? `(unreadable: ${c.error})` : c.title]);
  return table(['id', 'messages', 'updated', 'title'], rows);
}

function formatConversation(conversation: ConversationsGetResult): string {
  const lines = [`conversation ${conversation.id} · created ${conversation.createdAt} · updated ${conversation.updatedAt}`];
  for (const warning of conversation.warnings) lines.push(`warning: ${warning}`);
  for (const m of conversation.messages) lines.push('', `${m.role}${m.model ? ` [${m.model}]` : ''} · ${m.at}`, m.text);
  return lines.join('\n');
}

export const conversationsCommand: Command = {
  name: 'conversations',
  summary: 'list, show or delete the stored conversations',
  help: `Usage: mai conversations [list] [--json] [--config FILE]
       mai conversations show ID [--json] [--config FILE]
       mai conversations delete ID [--config FILE]

list (the default) shows every stored conversation, newest first: its id, message count, last
update and title. show prints one conversation's messages; delete removes its file for good.
Conversations live in Mai's state directory ($XDG_STATE_HOME/mai/conversations, or the
config's context.stateDir). \`mai chat -c ID\` continues one.

Options:
      --json         the protocol's result as JSON
      --config FILE  the config to use
  -h, --help         this help`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('conversations', args, options);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    const [action = 'list', id, ...extra] = positionals;
    const json = values.json ?? false;
    if (action === 'list') {
      if (id !== undefined) throw new UsageError('`mai conversations list` takes no id; `mai conversations show ID` shows one.');
      // Every page (conversations/list is paged): the command lists them all.
      const result = await withClient({ config: values.config, standalone: values.standalone, name: 'mai conversations' }, io, async (client) => {
        const all: ConversationsListResult = { conversations: [] };
        let cursor: string | undefined;
        do {
          const page = await client.request(ConversationsListRequest, cursor ? { cursor } : {});
          all.conversations.push(...page.conversations);
          cursor = page.nextCursor;
        } while (cursor);
        return all;
      });
      await writeOut(io, json ? `${JSON.stringify(result)}\n` : `${formatList(result)}\n`);
      return 0;
    }
    if (action !== 'show' && action !== 'delete') {
      throw new UsageError(`unknown action "${action}": use list, show ID or delete ID. See \`mai conversations --help\`.`);
    }
    if (id === undefined || extra.length > 0) throw new UsageError(`name one conversation: mai conversations ${action} ID (\`mai conversations\` lists the ids).`);
    if (action === 'show') {
      const conversation = await withClient({ config: values.config, standalone: values.standalone, name: 'mai conversations' }, io, (client) => client.request(ConversationsGetRequest, { id }));
      await writeOut(io, json ? `${JSON.stringify(conversation)}\n` : `${formatConversation(conversation)}\n`);
      return 0;
    }
    const result = await withClient({ config: values.config, standalone: values.standalone, name: 'mai conversations' }, io, (client) => client.request(ConversationsDeleteRequest, { id }));
    await writeOut(io, json ? `${JSON.stringify(result)}\n` : result.deleted ? `Deleted ${id}.\n` : `No conversation ${id}; nothing deleted.\n`);
    return result.deleted ? 0 : 1;
  },
};

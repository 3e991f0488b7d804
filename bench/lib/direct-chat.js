/**
 * The reference for `mai chat`'s cold start: a Node process that streams one answer straight from
 * the server with the `openai` package and prints it as it comes — what a one-shot client without
 * Mai does. `node direct-chat.js BASE_URL MODEL MESSAGE`.
 */
import OpenAI from 'openai';

const [baseURL, model, message] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
const stream = await client.chat.completions.create({ model: model ?? 'bench-model', messages: [{ role: 'user', content: message ?? 'hello' }], stream: true });
for await (const chunk of stream) {
  const text = chunk.choices[0]?.delta?.content;
  if (text) process.stdout.write(text);
}
process.stdout.write('\n');

/**
 * The reference for `mai batch`: prompts from stdin, one a line, answered N at a time straight
 * from the server with the `openai` package (streaming, as Mai's backend asks), one JSON line per
 * answer on stdout in input order. `node direct-batch.js BASE_URL MODEL CONCURRENCY < prompts`.
 */
import OpenAI from 'openai';

const [baseURL, model, concurrencyArg] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
const prompts = input.split('\n').filter((line) => line.trim() !== '');
/** @type {string[]} */
const results = new Array(prompts.length);
let next = 0;
let written = 0;
const worker = async () => {
  for (let index = next++; index < prompts.length; index = next++) {
    const stream = await client.chat.completions.create({ model: model ?? 'bench-model', messages: [{ role: 'user', content: /** @type {string} */ (prompts[index]) }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    results[index] = JSON.stringify({ id: index + 1, text });
    let out = '';
    while (written < results.length && results[written] !== undefined) out += `${results[written++]}\n`;
    if (out) process.stdout.write(out);
  }
};
await Promise.all(Array.from({ length: Number(concurrencyArg ?? 4) }, worker));

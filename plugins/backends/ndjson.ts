/**
 * Reads a newline-delimited JSON body (Ollama's streamed answers) one object at a time.
 * Stopping early ends the body's iteration (a node:http response is destroyed), so the connection is
 * closed rather than left reading.
 */

export class NdjsonLineError extends Error {
  override readonly name = 'NdjsonLineError';
  constructor(readonly line: string) {
    super(`a streamed line is not JSON: ${line.slice(0, 120)}`);
  }
}

export async function* readNdjson(body: AsyncIterable<Uint8Array>): AsyncGenerator<unknown, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = '';
  const parse = (line: string): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      throw new NdjsonLineError(line);
    }
  };
  // Leaving the loop early (a return, a throw) ends the iteration, which destroys a node:http body.
  for await (const value of body) {
    buffer += decoder.decode(value, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) yield parse(line);
    }
  }
  buffer += decoder.decode();
  const rest = buffer.trim();
  if (rest) yield parse(rest);
}

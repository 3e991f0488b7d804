/**
 * A varied corpus of real text to measure Mai's token estimate against real tokenizers: English
 * prose and Markdown from the installed packages' READMEs, TypeScript (zod's sources), C++
 * (node-llama-cpp's addon), a minified bundle, JSON (indented and compact), TypeScript's own
 * translations of its diagnostics in twelve languages (Latin, Cyrillic, CJK, Korean scripts), and
 * chat text with emoji. Only installed, lockfile-pinned files are read, so the corpus stays the same
 * as the repository changes; they are cut into message-sized samples (~1,500 characters).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface CorpusSample {
  category: string;
  source: string;
  text: string;
}

const ROOT = join(import.meta.dirname, '..', '..');
const SAMPLE_CHARS = 1_500;

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8').replace(/^\uFEFF/, '');
}

/** Cuts text into pieces of about `size` characters, at line ends where there is one. */
function chunks(text: string, size = SAMPLE_CHARS): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > size / 3) {
    let end = Math.min(rest.length, size);
    const newline = rest.lastIndexOf('\n', end);
    if (end < rest.length && newline > size / 2) end = newline + 1;
    out.push(rest.slice(0, end));
    rest = rest.slice(end);
  }
  return out;
}

function pick<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)]!);
}

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir)).sort()) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path, ext));
    else if (name.endsWith(ext)) out.push(path);
  }
  return out;
}

interface Readme {
  path: string;
  text: string;
}

function readmes(): Readme[] {
  const out: Readme[] = [];
  for (const name of readdirSync(join(ROOT, 'node_modules')).sort()) {
    const path = join('node_modules', name, 'README.md');
    try {
      out.push({ path, text: read(path) });
    } catch {
      // packages without a README
    }
  }
  return out;
}

function prose(all: Readme[]): CorpusSample[] {
  const paragraphs: string[] = [];
  for (const { text } of all) {
    for (const p of text.split(/\n\s*\n/)) {
      const flat = p.replace(/\s*\n\s*/g, ' ').trim();
      if (flat.length < 200 || /[`|<>#[\]{}*_]|https?:/.test(flat)) continue;
      paragraphs.push(flat);
    }
  }
  return pick(chunks(paragraphs.join('\n\n')), 40).map((text) => ({ category: 'English prose', source: 'node_modules/*/README.md', text }));
}

function markdown(readmeFiles: Readme[]): CorpusSample[] {
  const all = readmeFiles.flatMap(({ path, text }) => chunks(text).map((c) => ({ path, c })));
  return pick(all, 30).map(({ path, c }) => ({ category: 'Markdown', source: path, text: c }));
}

function code(): CorpusSample[] {
  // Installed (lockfile-pinned) sources, so the corpus does not move as this repository changes.
  const ts = files('node_modules/zod/src/v4/core', '.ts').flatMap((path) => chunks(read(path)).map((c) => ({ path, c })));
  const cpp = files('node_modules/node-llama-cpp/llama/addon', '.cpp').flatMap((path) => chunks(read(path)).map((c) => ({ path, c })));
  const minified = chunks(read('node_modules/tar/dist/esm/index.min.js'));
  return [
    ...pick(ts, 40).map(({ path, c }) => ({ category: 'TypeScript', source: path, text: c })),
    ...pick(cpp, 15).map(({ path, c }) => ({ category: 'C++', source: path, text: c })),
    ...pick(minified, 10).map((text) => ({ category: 'minified JS', source: 'node_modules/tar/dist/esm/index.min.js', text })),
  ];
}

function json(): CorpusSample[] {
  const lock = read('package-lock.json');
  const de = JSON.parse(read('node_modules/typescript/lib/de/diagnosticMessages.generated.json')) as Record<string, string>;
  const compact = JSON.stringify(Object.fromEntries(Object.entries(de).slice(0, 400)));
  return [
    ...pick(chunks(lock), 20).map((text) => ({ category: 'JSON (indented)', source: 'package-lock.json', text })),
    ...pick(chunks(compact.replace(/,"/g, ',\n"')), 10).map((text) => ({ category: 'JSON (compact)', source: 'typescript/lib/de/diagnosticMessages', text: text.replace(/\n/g, '') })),
  ];
}

const LANGUAGES: Array<[string, string]> = [
  ['fr', 'Latin-script languages'],
  ['de', 'Latin-script languages'],
  ['es', 'Latin-script languages'],
  ['it', 'Latin-script languages'],
  ['pt-br', 'Latin-script languages'],
  ['pl', 'Latin-script languages'],
  ['cs', 'Latin-script languages'],
  ['tr', 'Latin-script languages'],
  ['ru', 'Cyrillic'],
  ['zh-cn', 'Chinese, Japanese'],
  ['zh-tw', 'Chinese, Japanese'],
  ['ja', 'Chinese, Japanese'],
  ['ko', 'Korean'],
];

function translations(): CorpusSample[] {
  return LANGUAGES.flatMap(([lang, category]) => {
    const path = `node_modules/typescript/lib/${lang}/diagnosticMessages.generated.json`;
    const messages = Object.values(JSON.parse(read(path)) as Record<string, string>).filter((m) => m.length > 40);
    // Non-Latin scripts pack more per character: shorter samples keep them message-sized.
    const size = category === 'Chinese, Japanese' || category === 'Korean' ? 600 : SAMPLE_CHARS;
    return pick(chunks(messages.join(' '), size), 4).map((text) => ({ category, source: path, text }));
  });
}

const CHAT = [
  'Thanks!! 🙏 That fixed it 🎉🎉 — now the build is green ✅ and the tests pass 💯. Next: can you explain why the lock file changed? 🤔',
  '¿Puedes resumir esto en tres frases? Je préfère une réponse courte. Danke schön! 😊 Ещё один вопрос: как это работает? 谢谢！',
  '👍🏽 ok\n👨‍👩‍👧‍👦 family trip planned for 🇯🇵 in 🌸 season — need an itinerary: 🗼 Tokyo → 🦌 Nara → ⛩️ Kyoto. Budget ¥300,000 💴.',
  'Café naïve façade — coöperate, résumé, jalapeño, Zürich, São Paulo, Kraków, Ærøskøbing, Þórshöfn, Œuvre, smörgåsbord.',
  'मैं ठीक हूँ, धन्यवाद। आप कैसे हैं? कृपया मुझे बताइए कि यह कोड क्या करता है। العربية: كيف حالك؟ أريد شرحاً مختصراً. עברית: תודה רבה!',
  'Γειά σου κόσμε! Ελληνικά κείμενα για δοκιμή. ภาษาไทยสำหรับการทดสอบ สวัสดีครับ. Tiếng Việt: Xin chào, bạn khỏe không?',
];

function chat(): CorpusSample[] {
  return CHAT.map((text) => ({ category: 'chat with emoji, other scripts', source: 'test/support/token-corpus.ts', text }));
}

export function tokenCorpus(): CorpusSample[] {
  const readmeFiles = readmes(); // ~350 files, read once for both the prose and the Markdown samples
  return [...prose(readmeFiles), ...markdown(readmeFiles), ...code(), ...json(), ...translations(), ...chat()];
}

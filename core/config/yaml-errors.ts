/**
 * What a YAML syntax error is, said in Mai's own words. The yaml library's messages can quote the
 * file (`Unresolved tag: !…`, `Block scalar header includes extra characters: …`, `Invalid escape
 * sequence …`), and a config error travels to the client that asked for the reload: a file that is
 * not a config (a key file, /proc/self/environ, a .env) must never come back in an error. So the
 * message is chosen by the error's code, never copied; the line and column say where.
 */
const sentences: Readonly<Record<string, string>> = {
  ALIAS_PROPS: 'an alias (*name) cannot have a tag or an anchor',
  BAD_ALIAS: 'an alias (*name) refers to no anchor (&name) set before it',
  BAD_COLLECTION_TYPE: 'a tag does not fit the kind of value it is on',
  BAD_DIRECTIVE: 'an unknown or unsupported % directive',
  BAD_DQ_ESCAPE: 'an invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'the indentation is wrong',
  BAD_PROP_ORDER: 'an anchor or a tag is in the wrong place',
  BAD_SCALAR_START: 'a plain value starts with a character YAML reserves (quote the value)',
  BLOCK_AS_IMPLICIT_KEY: 'a nested block is used as a key',
  BLOCK_IN_FLOW: 'a block value inside a { } or [ ] collection',
  DUPLICATE_KEY: 'a key appears twice in the same map',
  IMPOSSIBLE: 'the YAML cannot be read',
  KEY_OVER_1024_CHARS: 'a key is longer than 1024 characters',
  MISSING_CHAR: 'a character is missing (a colon, a comma, a closing quote or bracket)',
  MULTILINE_IMPLICIT_KEY: 'a key runs over more than one line (a missing colon is the usual cause)',
  MULTIPLE_ANCHORS: 'a value has more than one anchor',
  MULTIPLE_DOCS: 'the file holds more than one YAML document (---); a config is one',
  MULTIPLE_TAGS: 'a value has more than one tag',
  NON_STRING_KEY: 'a key is not a plain string',
  RESOURCE_EXHAUSTION: 'the YAML expands too much (aliases)',
  TAB_AS_INDENT: 'a tab is used for indentation (YAML needs spaces)',
  TAG_RESOLVE_FAILED: 'an unknown tag (!…); Mai configs use none',
  UNEXPECTED_TOKEN: 'something unexpected for YAML here',
};

/** One sentence for a yaml error code, with none of the file's text in it. */
export function yamlErrorSentence(code: string): string {
  return sentences[code] ?? 'this is not valid YAML';
}

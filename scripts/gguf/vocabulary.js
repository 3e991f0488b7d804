/**
 * The demo models' vocabulary: SentencePiece-style ("llama" tokenizer in llama.cpp) with
 * byte fallback, so ANY text tokenizes — every byte has its own `<0xXX>` token. On top of the
 * bytes: the printable ASCII characters, a few hundred common English words (with the prefixes
 * SentencePiece needs to merge up to them, so English tokenizes to about one token per word),
 * and the ChatML control tokens the chat template uses.
 */
import { TokenType } from './constants.js';

/** SentencePiece's visible space. */
export const SPACE = '\u2581';

/** Ids of the special tokens (fixed: the chat template and the metadata refer to them). */
export const SpecialTokens = Object.freeze({ unk: 0, bos: 1, eos: 2, imStart: 3, imEnd: 4 });

const WORDS = `the of and to a in is it you that he was for on are with as I his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said an each she which do
their time if will way about many then them write would like so these her long make thing see him two has look
more day could go come did number sound no most people my over know water than call first who may down side been
now find any new work part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line differ turn cause much
mean before move right boy old too same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men change went light kind off need
house picture try us again animal point mother world near build self earth father head stand own page should
country found answer school grow study still learn plant cover food sun four between state keep eye never last
let thought city tree cross farm hard start might story saw far sea draw left late run while press close night
real life few north open seem together next white children begin got walk example ease paper group always music
those both mark often letter until mile river car feet care second book carry took science eat room friend began
idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual young
ready above ever red list though feel talk bird soon body dog family direct pose leave song measure door product
black short numeral class wind question happen complete ship area half rock order fire south problem piece told
knew pass since top whole king space heard best hour better true during hundred five remember step early hold
west ground interest reach fast verb sing listen six table travel less morning ten simple several vowel toward
war lay against pattern slow center love person money serve appear road map rain rule govern pull cold notice
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest
correct able pound done beauty drive stood contain front teach week final gave green oh quick develop ocean warm
free minute strong special mind behind clear tail produce fact street inch multiply nothing course stay wheel
full force blue object decide surface deep moon island foot system busy test record boat common gold possible
plane stead dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes
distant fill east paint language among model local machine answer`.split(/\s+/).filter(Boolean);

/** What a token is, for the demo weights (which tokens the random model should prefer). */
/** @typedef {'special' | 'byte' | 'char' | 'piece' | 'word' | 'punctuation'} TokenRole */

/**
 * @returns {{ tokens: string[], scores: number[], types: number[], roles: TokenRole[] }}
 */
export function buildVocabulary() {
  /** @type {string[]} */ const tokens = [];
  /** @type {number[]} */ const scores = [];
  /** @type {number[]} */ const types = [];
  /** @type {TokenRole[]} */ const roles = [];
  /** @type {Map<string, number>} */ const index = new Map();
  /** @param {string} text @param {number} type @param {TokenRole} role @param {number} score */
  const add = (text, type, role, score = 0) => {
    const existing = index.get(text);
    if (existing !== undefined) {
      if (role === 'word') roles[existing] = 'word'; // a whole word that is also another word's prefix
      return;
    }
    index.set(text, tokens.length);
    tokens.push(text);
    types.push(type);
    roles.push(role);
    scores.push(score);
  };
  add('<unk>', TokenType.UNKNOWN, 'special');
  add('<s>', TokenType.CONTROL, 'special');
  add('</s>', TokenType.CONTROL, 'special');
  add('<|im_start|>', TokenType.CONTROL, 'special');
  add('<|im_end|>', TokenType.CONTROL, 'special');
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TokenType.BYTE, 'byte');
  add(SPACE, TokenType.NORMAL, 'char', -1);
  for (let c = 0x21; c <= 0x7e; c++) {
    const char = String.fromCharCode(c);
    add(char, TokenType.NORMAL, '.,!?'.includes(char) ? 'punctuation' : 'char', -1);
  }
  // Earlier words merge first (a higher score wins in SentencePiece's bigram queue).
  let rank = 0;
  for (const word of WORDS) {
    const full = SPACE + word;
    for (let end = 2; end <= full.length; end++) {
      rank++;
      add(full.slice(0, end), TokenType.NORMAL, end === full.length ? 'word' : 'piece', -rank);
    }
  }
  return { tokens, scores, types, roles };
}

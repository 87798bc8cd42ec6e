/**
 * Which writing systems a model reads, and whether a text is written in another one.
 *
 * Counting unknown tokens catches a Chinese text sent to an English model (its characters fall
 * to [UNK]), but not the other way round: a Chinese WordPiece vocabulary holds Latin word pieces
 * (a fifth of bert-base-chinese) and kana, so English and Japanese tokenize into "known" pieces
 * the model was never trained to read. Comparing scripts catches both directions.
 */

/** ISO 15924 codes, which `\p{Script=...}` accepts too. Texts are checked against these. */
const SCRIPTS = ['Latn', 'Hani', 'Hira', 'Kana', 'Hang', 'Cyrl', 'Arab', 'Grek', 'Hebr', 'Thai', 'Deva', 'Beng', 'Taml', 'Geor', 'Armn', 'Ethi', 'Khmr'] as const;
type Script = (typeof SCRIPTS)[number];
const PATTERNS = SCRIPTS.map((script) => [script, new RegExp(`\\p{Script=${script}}`, 'u')] as const);

/** Writing systems whose letters a language's texts mix (Japanese: kanji and both kana). */
const SCRIPT_FAMILIES: Record<string, Script[]> = { Hans: ['Hani'], Hant: ['Hani'], Jpan: ['Hani', 'Hira', 'Kana'], Kore: ['Hang', 'Hani'] };

/**
 * A vocabulary counts as written in one script when this share of its tokens with letters is in
 * it: bert-base-uncased is 95% Latin, bert-base-chinese 76% Han (and 20% Latin). A multilingual
 * vocabulary has no such script, and then only a declared language says what to expect.
 */
const DOMINANT_SHARE = 0.6;

/**
 * A text is flagged when this share of its words is in scripts the model does not read: Japanese
 * mixes kanji (which a Chinese model reads) with kana, and a Chinese review may name a product or
 * a URL in Latin letters. Measured on ../shared data, see language.test.ts.
 */
export const FOREIGN_SHARE = 0.3;

/**
 * Scripts written without spaces, where each character counts as a word; in the others a run
 * of letters does, so "Copyright" weighs what one Chinese character does, not nine.
 */
const UNSPACED: ReadonlySet<string> = new Set(['Hani', 'Hira', 'Kana', 'Thai', 'Khmr']);

/** Letters looked at per text: enough to tell the script, bounded for a 100k-character text. */
const SAMPLE_CHARS = 2000;

export interface ModelLanguage {
  /** BCP 47 tags the model declares (config.json "language"), possibly none. */
  languages: string[];
  /** ISO 15924 scripts the model reads; empty when neither declared nor evident from the vocabulary. */
  scripts: string[];
}

function scriptOf(char: string): Script | undefined {
  return PATTERNS.find(([, pattern]) => pattern.test(char))?.[0];
}

/** The scripts a BCP 47 language tag is written in (zh: Han; ja: Han and both kana); none for a tag Intl does not know. */
export function scriptsOfLanguage(tag: string): Script[] {
  let script: string | undefined;
  try {
    script = new Intl.Locale(tag).maximize().script;
  } catch {
    return [];
  }
  if (!script) return [];
  return SCRIPT_FAMILIES[script] ?? ((SCRIPTS as readonly string[]).includes(script) ? [script as Script] : []);
}

/**
 * The declared languages' scripts; without a declaration, the script most of the vocabulary is
 * written in (a Han vocabulary reads Chinese, its kana pieces notwithstanding).
 */
export function modelLanguage(declared: string[], vocabulary: Iterable<string>): ModelLanguage {
  if (declared.length > 0) return { languages: declared, scripts: [...new Set(declared.flatMap(scriptsOfLanguage))] };
  const counts = new Map<Script, number>();
  let lettered = 0;
  for (const token of vocabulary) {
    const letter = /\p{L}/u.exec(token)?.[0];
    if (!letter) continue;
    lettered++;
    const script = scriptOf(letter);
    if (script) counts.set(script, (counts.get(script) ?? 0) + 1);
  }
  const [dominant, count] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [];
  return { languages: [], scripts: dominant && count! >= DOMINANT_SHARE * lettered ? [dominant] : [] };
}

/**
 * Words per script in the start of `text` ('other' for letters of scripts not listed), and
 * their total.
 */
function wordsByScript(text: string): { words: number; byScript: Map<string, number> } {
  const byScript = new Map<string, number>();
  let words = 0;
  let previous: string | undefined;
  for (const char of text.slice(0, SAMPLE_CHARS)) {
    // Marks shared by scripts (the long-vowel mark ー) and non-letters neither start nor end a word.
    if (/[\p{Script=Zyyy}\p{Script=Zinh}]/u.test(char) && /\p{L}|\p{M}/u.test(char)) continue;
    const script = /\p{L}/u.test(char) ? (scriptOf(char) ?? 'other') : undefined;
    const counts = script !== undefined && (UNSPACED.has(script) || script !== previous);
    previous = script;
    if (!counts) continue;
    words++;
    byScript.set(script, (byScript.get(script) ?? 0) + 1);
  }
  return { words, byScript };
}

/**
 * The scripts of `text` the model does not read, when they hold at least FOREIGN_SHARE of its
 * words; otherwise none.
 */
export function foreignScripts(text: string, modelScripts: readonly string[]): string[] {
  if (modelScripts.length === 0) return [];
  const { words, byScript } = wordsByScript(text);
  const foreign = [...byScript].filter(([script]) => !modelScripts.includes(script));
  const foreignWords = foreign.reduce((sum, [, count]) => sum + count, 0);
  if (words === 0 || foreignWords < FOREIGN_SHARE * words) return [];
  return foreign.sort((a, b) => b[1] - a[1]).map(([scriptName]) => scriptName);
}

/**
 * The script most words of `text` are written in ('other' for an unlisted one), or undefined
 * for a text without letters. A tie goes to the script met first.
 */
export function dominantScript(text: string): string | undefined {
  let best: [string, number] | undefined;
  for (const entry of wordsByScript(text).byScript) if (!best || entry[1] > best[1]) best = entry;
  return best?.[0];
}

/** English names of the scripts, for warnings people read. */
export function scriptNames(scripts: readonly string[]): string {
  const names = new Intl.DisplayNames(['en'], { type: 'script' });
  return scripts.map((script) => (script === 'other' ? 'other scripts' : (names.of(script) ?? script))).join(', ');
}

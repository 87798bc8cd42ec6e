import { Tokenizer } from 'tokenizers';
import { ModelLoadError } from '../model/errors.js';

export interface EncodedText {
  ids: number[];
  typeIds: number[];
  /** The text had more tokens than the limit and was cut. */
  truncated: boolean;
  /**
   * Share of the text's own tokens that are unknown or pieces of a word split three or more
   * ways: WordPiece vocabularies rarely map a foreign language to [UNK] outright (English sent
   * to a Chinese BERT mostly shatters into fragments), so counting [UNK] alone misses that case.
   */
  unknownRatio: number;
}

/** Texts of one caller waiting for the next joint encodeBatch call. */
interface PendingEncode {
  texts: string[];
  resolve: (encoded: EncodedText[]) => void;
  reject: (error: Error) => void;
}

/**
 * Wraps the Rust `tokenizers` binding. Encoding runs on libuv's thread pool (the binding's
 * encodeBatch is an async task), so a large request never stalls the event loop. The texts of
 * every request parsed in one turn of the event loop go to the pool in one call: each call costs
 * a thread hop and the binding's own setup, which for a one-sentence request was more than the
 * tokenizing (~120 us of CPU per text alone, ~70 in calls of 8).
 */
export class TextEncoder {
  readonly maxLength: number;
  private readonly tokenizer: Tokenizer;
  private readonly unknownId: number | null;

  constructor(file: string, maxLength: number) {
    try {
      this.tokenizer = Tokenizer.fromFile(file);
    } catch (error) {
      throw new ModelLoadError(file, `cannot load tokenizer (${firstLine(error)})`);
    }
    this.maxLength = maxLength;
    // Padding is done per batch by the batcher; the file's own fixed padding would pad every text to the maximum.
    this.tokenizer.disablePadding();
    this.tokenizer.setTruncation(maxLength);
    this.unknownId = this.findUnknownId();
  }

  /** Every token the tokenizer can produce. */
  vocabulary(): string[] {
    return Object.keys(this.tokenizer.getVocab(false));
  }

  private pending: PendingEncode[] = [];

  encode(texts: string[]): Promise<EncodedText[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => void this.flush());
      this.pending.push({ texts, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const callers = this.pending;
    this.pending = [];
    let encoded: EncodedText[];
    try {
      encoded = await this.encodeNow(callers.flatMap((caller) => caller.texts));
    } catch (error) {
      // One caller's text must not fail the others that happened to share its turn: each is tried alone.
      if (callers.length === 1) callers[0]!.reject(error as Error);
      else await Promise.all(callers.map((caller) => this.encodeNow(caller.texts).then(caller.resolve, caller.reject)));
      return;
    }
    let offset = 0;
    for (const caller of callers) {
      caller.resolve(encoded.slice(offset, offset + caller.texts.length));
      offset += caller.texts.length;
    }
  }

  private async encodeNow(texts: string[]): Promise<EncodedText[]> {
    const encodings = await this.tokenizer.encodeBatch(texts);
    return encodings.map((encoding) => {
      const ids = encoding.getIds();
      return {
        ids,
        typeIds: encoding.getTypeIds(),
        truncated: encoding.getOverflowing().length > 0,
        unknownRatio: this.unknownRatio(ids, encoding.getWordIds()),
      };
    });
  }

  private unknownRatio(ids: number[], wordIds: (number | null | undefined)[]): number {
    const piecesPerWord = new Map<number, number>();
    const unknownWords = new Set<number>();
    for (let i = 0; i < ids.length; i++) {
      const word = wordIds[i];
      if (word === null || word === undefined) continue; // special tokens
      piecesPerWord.set(word, (piecesPerWord.get(word) ?? 0) + 1);
      if (ids[i] === this.unknownId) unknownWords.add(word);
    }
    let own = 0;
    let unknown = 0;
    for (const [word, pieces] of piecesPerWord) {
      own += pieces;
      if (pieces >= 3 || unknownWords.has(word)) unknown += pieces;
    }
    return own === 0 ? 0 : unknown / own;
  }

  private findUnknownId(): number | null {
    for (const token of ['[UNK]', '<unk>', '<UNK>']) {
      const id = this.tokenizer.tokenToId(token);
      if (id !== null && id !== undefined) return id;
    }
    return null;
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

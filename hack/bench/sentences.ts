import { readFileSync } from 'node:fs';

/** The "sentence" column of a tab-separated file with a header, as the GLUE and shared/ data sets are laid out. */
export function readSentences(file: string): string[] {
  const [header, ...lines] = readFileSync(file, 'utf8').split('\n');
  const column = header!.split('\t').indexOf('sentence');
  if (column === -1) throw new Error(`${file}: expected a tab-separated header with a "sentence" column`);
  const texts = lines.map((line) => line.split('\t')[column]?.trim() ?? '').filter((text) => text !== '');
  if (texts.length === 0) throw new Error(`${file}: no sentences`);
  return texts;
}

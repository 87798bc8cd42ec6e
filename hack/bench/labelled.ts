import { existsSync, readFileSync } from 'node:fs';

export interface LabelledText {
  sentence: string;
  label: number;
}

/** A `sentence<TAB>label` file with a header row, as in ../shared/data. */
export function readLabelled(path: string): LabelledText[] {
  if (!existsSync(path)) throw new Error(`${path} is missing: the labelled sets live in ../shared/data beside the checkout`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .slice(1)
    .map((line) => {
      const tab = line.lastIndexOf('\t');
      return { sentence: line.slice(0, tab), label: Number(line.slice(tab + 1)) };
    });
}

/**
 * Accuracy of a labelled set through the HTTP API, sent as concurrent requests of 50 texts so
 * batches mix texts from different requests as they do in production.
 */
export async function accuracyThroughApi(baseUrl: string, rows: LabelledText[]): Promise<number> {
  const chunks = Array.from({ length: Math.ceil(rows.length / 50) }, (_, i) => rows.slice(i * 50, (i + 1) * 50));
  const answers = await Promise.all(
    chunks.map(async (chunk) => {
      const response = await fetch(`${baseUrl}/v1/sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts: chunk.map((row) => row.sentence) }) });
      const body = (await response.json()) as { results?: { label: string }[] };
      if (response.status !== 200 || !body.results) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`);
      return body.results;
    }),
  );
  const predicted = answers.flat().map((result) => (result.label === 'positive' ? 1 : 0));
  if (predicted.length !== rows.length) throw new Error(`${predicted.length} answers for ${rows.length} texts`);
  return predicted.filter((label, i) => label === rows[i]!.label).length / rows.length;
}

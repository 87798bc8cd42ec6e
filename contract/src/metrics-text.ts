/**
 * Reading another process's /metrics (Prometheus text format 0.0.4): the operator's autoscaler
 * and canary judge scrape runtime and router pods, the router reads a runtime's startup. Every
 * such body is input from outside: read to a bound, and a line that does not parse is skipped,
 * never guessed at.
 */

/** One sample: its series name, labels and value (NaN and ±Inf kept: each reader decides). */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?[ \t]*$/;
const LABEL = /\s*([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
/** A runtime's or router's /metrics is tens of KiB; a pod answering more is not read on. */
export const MAX_METRICS_BYTES = 1 << 20;

/** The samples of the given series in a /metrics text. */
export function parseSamples(text: string, names: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const [, name = '', labelText = '', raw = ''] = m;
    if (!names.has(name)) continue;
    const labels = parseLabels(labelText);
    if (labels) out.push({ name, labels, value: sampleValue(raw) });
  }
  return out;
}

/** The value of the series' sample whose labels include `labels`, if it is a finite number. */
export function readSample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const sample = parseSamples(text, new Set([name])).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample && Number.isFinite(sample.value) ? sample.value : undefined;
}

/** GET base/metrics as text; undefined on any failure, a non-2xx answer or a body over maxBytes. */
export async function fetchMetricsText(base: string, { signal, maxBytes = MAX_METRICS_BYTES }: { signal: AbortSignal; maxBytes?: number }): Promise<string | undefined> {
  try {
    // The signal covers reading the body too, not only the headers.
    const res = await fetch(`${base}/metrics`, { signal });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return await boundedText(res, maxBytes);
  } catch {
    return undefined;
  }
}

/** The body as text, or undefined once it passes `maxBytes` (read no further). */
export async function boundedText(res: Response, maxBytes: number): Promise<string | undefined> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    // Leaving the loop cancels the stream.
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sampleValue(raw: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  return Number(raw);
}

function parseLabels(text: string): Record<string, string> | undefined {
  // Null prototype: a label named "__proto__" from outside stays a plain key.
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) return text.slice(LABEL.lastIndex).trim() === '' ? labels : undefined;
    labels[m[1] ?? ''] = (m[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

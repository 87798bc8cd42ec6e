import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '#contract/config-load.js';

/** How often the token file is re-read: the kubelet rewrites a mounted Secret within about a minute of a change. */
export const TOKEN_REFRESH_MS = 5_000;

const BEARER = /^Bearer +(\S+) *$/i;

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** Non-empty lines, so a Secret may carry the old and the new token at once while clients rotate. */
function parseTokens(text: string, file: string): Buffer[] {
  const tokens = text.split('\n').map((line) => line.trim()).filter(Boolean);
  if (tokens.length === 0) throw new ConfigError(`config: auth.tokenFile ${file} holds no token`);
  return tokens.map(digest);
}

/**
 * The bearer tokens inference routes accept, read from a file (a mounted Secret). Tokens are
 * kept and compared as SHA-256 digests with timingSafeEqual: equal lengths whatever was sent,
 * and no early exit that would time how much of a guess was right.
 */
export class BearerTokens {
  private constructor(
    private readonly file: string,
    private digests: Buffer[],
  ) {}

  /** At start: a missing or empty file stops the start, since serving unauthenticated by mistake is worse. */
  static load(file: string): BearerTokens {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`config: cannot read auth.tokenFile ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    return new BearerTokens(file, parseTokens(text, file));
  }

  /** Whether an Authorization header carries one of the tokens. */
  accepts(authorization: string | undefined): boolean {
    const match = authorization === undefined ? null : BEARER.exec(authorization);
    if (!match) return false;
    const presented = digest(match[1]!);
    let accepted = false;
    // Every token is compared, so the answer takes as long for the first token as for the last.
    for (const known of this.digests) accepted = timingSafeEqual(presented, known) || accepted;
    return accepted;
  }

  /**
   * Picks up a rotated Secret. A file that cannot be read or is empty keeps the tokens in use
   * (the kubelet swaps the whole directory atomically, so a half-written file is not expected),
   * and the problem is reported instead.
   */
  async refresh(): Promise<void> {
    this.digests = parseTokens(await readFile(this.file, 'utf8'), this.file);
  }

  /** Refreshes on a timer until the returned function is called. */
  watch(onError: (error: Error) => void, intervalMs = TOKEN_REFRESH_MS): () => void {
    const timer = setInterval(() => {
      this.refresh().catch((error: unknown) => onError(error as Error));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

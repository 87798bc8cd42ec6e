/**
 * What the operator and the runtime's `fetch` command (the init container of URL models) share.
 */

/**
 * The environment variable `fetch` reads the URL from when no --url is given. The operator sets it
 * (from a Secret, for a presigned URL) so the URL is never in the pod's arguments.
 */
export const FETCH_URL_ENV = 'SENTIMENT_FETCH_URL';

/**
 * A model URL as it may be shown: in the operator's status, printer column, annotations and events,
 * and in the runtime's fetch log and errors. A presigned URL's query is its signature and userinfo
 * is a password, so both are dropped; `?<redacted>` keeps it visible that the real URL has a query.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return '<not a URL>';
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? '?<redacted>' : ''}`;
}

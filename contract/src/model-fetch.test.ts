import { describe, expect, it } from 'vitest';
import { redactUrl } from './model-fetch.js';

describe('redactUrl', () => {
  it.each([
    ['a public URL, unchanged', 'https://models.example/sst2/model.tar.gz', 'https://models.example/sst2/model.tar.gz'],
    [
      "a presigned URL's signature",
      'https://bucket.s3.amazonaws.com/m.tar.gz?X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=deadbeef',
      'https://bucket.s3.amazonaws.com/m.tar.gz?<redacted>',
    ],
    ['userinfo', 'https://user:hunter2@models.example:8443/m.tar.gz', 'https://models.example:8443/m.tar.gz'],
    ['a fragment', 'https://models.example/m.tar.gz#sig=abc', 'https://models.example/m.tar.gz'],
    ['an unparseable string, which may hold anything', 'https://user:hunter2@[::1', '<not a URL>'],
  ])('drops %s', (_case, raw, shown) => {
    expect(redactUrl(raw)).toBe(shown);
    expect(redactUrl(raw)).not.toMatch(/hunter2|deadbeef|AKIA|sig=/);
  });

  it('takes a parsed URL as well', () => {
    expect(redactUrl(new URL('https://h.example/p?token=t'))).toBe('https://h.example/p?<redacted>');
  });
});

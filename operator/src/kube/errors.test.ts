import { describe, expect, it } from 'vitest';
import { ApiError, classify, Failure, LeadershipLostError } from './errors.js';

const api = (code: number) => new ApiError(code, { code, message: 'm' }, 'm');

describe('classify', () => {
  it.each<[string, unknown, Failure]>([
    ['a validation error', api(422), Failure.Refused],
    ['an admission webhook or RBAC denial', api(403), Failure.Refused],
    ['a malformed request', api(400), Failure.Refused],
    ['a conflict', api(409), Failure.Conflict],
    ['a missing object', api(404), Failure.NotFound],
    ['an expired resourceVersion', api(410), Failure.Gone],
    ['throttling', api(429), Failure.Other],
    ['a request timeout', api(408), Failure.Other],
    ['an apiserver error', api(500), Failure.Other],
    ['a gateway with no apiserver behind it', api(503), Failure.Unreachable],
    ['no answer', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), Failure.Unreachable],
    ['a request that timed out', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), Failure.Unreachable],
    ['a bug', new TypeError('x is undefined'), Failure.Other],
    ['a lost leadership term', new LeadershipLostError('term over'), Failure.LeadershipLost],
  ])('takes %s for %s', (_name, err, failure) => {
    expect(classify(err)).toBe(failure);
  });
});

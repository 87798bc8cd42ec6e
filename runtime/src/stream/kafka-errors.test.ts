import { describe, expect, it } from 'vitest';
import { AuthenticationError, MultipleErrors, ProtocolError } from '@platformatic/kafka';
import { kafkaErrorCauses } from './kafka-errors.js';

describe('kafkaErrorCauses', () => {
  it('finds the reasons under the client\'s nested retry aggregates, each once', () => {
    const refused = () => new AuthenticationError('SASL authentication failed.', { cause: new ProtocolError('SASL_AUTHENTICATION_FAILED', 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512') });
    const inner = new MultipleErrors('findGroupCoordinator failed 6 times.', [refused(), refused()]);
    const outer = new MultipleErrors('joinGroup failed 6 times.', [inner, new MultipleErrors('findGroupCoordinator failed 6 times.', [refused()])]);
    expect(kafkaErrorCauses(outer)).toBe('SASL authentication failed. Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512');
  });

  it('keeps a plain error\'s message and at most a few distinct causes', () => {
    expect(kafkaErrorCauses(new Error('connect ECONNREFUSED 127.0.0.1:9092'))).toBe('connect ECONNREFUSED 127.0.0.1:9092');
    const many = new AggregateError(['a', 'b', 'c', 'd'].map((m) => new Error(m)), 'failed');
    expect(kafkaErrorCauses(many, 3)).toBe('a; b; c');
    expect(kafkaErrorCauses('not an error')).toBe('not an error');
  });
});

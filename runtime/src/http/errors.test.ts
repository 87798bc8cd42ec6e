import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { RuntimeError, type ErrorKind } from '../core/errors.js';
import { RuntimeMetrics } from '../metrics.js';
import { registerErrorHandling } from './errors.js';

function appThrowing(error: Error) {
  const app = Fastify({ bodyLimit: 1024 });
  registerErrorHandling(app, new RuntimeMetrics());
  app.post('/boom', { schema: { body: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } } } }, async () => {
    throw error;
  });
  return app;
}

describe('error table', () => {
  it.each<[ErrorKind, number]>([
    ['Validation', 400],
    ['PayloadTooLarge', 413],
    ['Overloaded', 429],
    ['DeadlineExceeded', 504],
    ['ClientGone', 499],
    ['NotReady', 503],
    ['NotFound', 404],
    ['Backend', 500],
  ])('maps %s to %i with a JSON body', async (kind, status) => {
    const response = await appThrowing(new RuntimeError(kind, `a ${kind} problem`)).inject({ method: 'POST', url: '/boom', payload: { text: 'x' } });
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ error: `a ${kind} problem`, error_type: kind });
  });

  it('sends Retry-After when the error carries one', async () => {
    const response = await appThrowing(new RuntimeError('Overloaded', 'full', 2)).inject({ method: 'POST', url: '/boom', payload: { text: 'x' } });
    expect(response.headers['retry-after']).toBe('2');
  });

  it('maps fastify failures: schema 400, invalid JSON 400, body limit 413, unknown route 404, unexpected 500', async () => {
    const app = appThrowing(new Error('unexpected'));
    const schema = await app.inject({ method: 'POST', url: '/boom', payload: { other: 1 } });
    expect([schema.statusCode, schema.json().error_type]).toEqual([400, 'Validation']);
    const json = await app.inject({ method: 'POST', url: '/boom', headers: { 'content-type': 'application/json' }, payload: '{"text": ' });
    expect([json.statusCode, json.json().error_type]).toEqual([400, 'Validation']);
    const big = await app.inject({ method: 'POST', url: '/boom', payload: { text: 'x'.repeat(2000) } });
    expect([big.statusCode, big.json().error_type]).toEqual([413, 'PayloadTooLarge']);
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    expect([missing.statusCode, missing.json().error_type]).toEqual([404, 'NotFound']);
    const unexpected = await app.inject({ method: 'POST', url: '/boom', payload: { text: 'x' } });
    expect([unexpected.statusCode, unexpected.json().error_type]).toEqual([500, 'Backend']);
  });
});

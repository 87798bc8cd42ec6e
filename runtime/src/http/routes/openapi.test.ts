import { readFileSync } from 'node:fs';
import type { RouteOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE, renderOpenApi } from '../../../../hack/gen-openapi.js';
import { buildFakeApp } from '../../../../test/support/fake-model.js';

type Operation = { requestBody?: { content: Record<string, { schema: object }> }; responses: Record<string, { content?: Record<string, { schema: object }> }>; parameters?: { name: string; in: string }[] };

describe('GET /openapi.json', () => {
  it('lists every route with its request and response schemas', async () => {
    const { app } = buildFakeApp();
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (route) => void routes.push(route));
    const response = await app.inject('/openapi.json');
    expect(response.statusCode).toBe(200);
    const document = response.json() as { openapi: string; paths: Record<string, Record<string, Operation>> };
    expect(document.openapi).toMatch(/^3\./);

    const served = routes
      .flatMap((route) => [route.method].flat().map((method) => ({ method: method.toLowerCase(), url: route.url, schema: route.schema })))
      .filter((route) => route.method !== 'head' && route.url !== '/openapi.json');
    // Guards the comparison below against an empty list: sixteen routes at the time of writing.
    expect(served.length).toBeGreaterThan(10);
    const listed = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    expect(listed.sort()).toEqual(served.map((route) => `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`).sort());

    for (const route of served) {
      const operation = document.paths[route.url.replace(/:(\w+)/g, '{$1}')]![route.method]!;
      const where = `${route.method} ${route.url}`;
      expect(Object.values(operation.responses['200']?.content ?? {}), `${where}: 200 response schema`).not.toEqual([]);
      for (const content of Object.values(operation.responses['200']!.content!)) expect(content.schema, where).toBeTypeOf('object');
      if (route.method === 'post') expect(Object.keys(operation.requestBody?.content ?? {}), `${where}: request body`).toContain('application/json');
      const pathParams = [...route.url.matchAll(/:(\w+)/g)].map((match) => match[1]);
      expect(operation.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], `${where}: path parameters`).toEqual(pathParams);
      // Inference can fail in every way the error table knows; the document says with which body.
      if (route.method === 'post') expect(Object.keys(operation.responses), where).toEqual(expect.arrayContaining(['4XX', '5XX']));
    }
    await app.close();
  });

  it(`is committed as ${OPENAPI_FILE} for the default settings, as npm run generate writes it`, async () => {
    expect(readFileSync(new URL(`../../../../${OPENAPI_FILE}`, import.meta.url), 'utf8')).toBe(await renderOpenApi());
  });
});

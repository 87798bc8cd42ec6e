import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRD_FILE, sentimentModelCRDYaml } from '../operator/src/api/v1alpha1/crd.js';
import { API_DOC_FILE, renderApiReference } from './gen-api-docs.js';
import { OPENAPI_FILE, renderOpenApi } from './gen-openapi.js';
import { renderValuesSchema, VALUES_SCHEMA_FILE } from './gen-values-schema.js';

// npm runs scripts from the package root, which is where the generated files belong.
const root = process.cwd();
const yaml = sentimentModelCRDYaml();
for (const dir of ['crds', 'charts/sentiment-operator/crds']) {
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, CRD_FILE), yaml);
  console.log(`wrote ${join(dir, CRD_FILE)}`);
}
// The API reference comes from the same schema, so one command keeps every generated file in step.
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, API_DOC_FILE), renderApiReference());
console.log(`wrote ${API_DOC_FILE}`);
// The chart's values schema takes the operator's settings from the operator's own config schema.
writeFileSync(join(root, VALUES_SCHEMA_FILE), renderValuesSchema(root));
console.log(`wrote ${VALUES_SCHEMA_FILE}`);
// The runtime's HTTP API, from the route schemas it serves.
writeFileSync(join(root, OPENAPI_FILE), await renderOpenApi());
console.log(`wrote ${OPENAPI_FILE}`);

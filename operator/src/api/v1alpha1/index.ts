export * from './types.js';
export * from './spec.js';
export * from './status.js';
export { CRD_FILE, sentimentModelCRD, sentimentModelCRDYaml } from './crd.js';
export * from './stream.js';

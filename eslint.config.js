import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The operator's layers point one way: api/ <- kube/ <- controller/ and autoscaler/, wired together by run.ts. */
const operatorLayer = (folder, mayNotImport) => ({
  files: [`operator/src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: mayNotImport.map((other) => ({ regex: `(^|/)${other}/`, message: `operator/src/${folder}/ may not import ${other}/: the layers point one way (api <- kube <- controller, autoscaler).` })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'charts/**', 'models/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  operatorLayer('api', ['kube', 'controller', 'autoscaler']),
  operatorLayer('kube', ['controller', 'autoscaler']),
  operatorLayer('autoscaler', ['controller']),
  operatorLayer('controller', ['autoscaler']),
  // The router shares the operator's API types and kube layer, nothing that decides or reconciles.
  {
    files: ['router/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: ['controller', 'autoscaler'].map((other) => ({ regex: `operator/src/${other}/`, message: `router/ may import operator/src/api/ and kube/ only, never ${other}/.` })),
      }],
    },
  },
);

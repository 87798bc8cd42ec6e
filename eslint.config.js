import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The operator's layers point one way: api/ <- kube/ and kafka/ <- controller/ and autoscaler/,
 * wired together by run.ts. kafka/ is the only operator code with a Kafka client, as kube/ is the
 * only one talking to the API server.
 */
const operatorLayer = (folder, mayNotImport) => ({
  files: [`operator/src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...mayNotImport.map((other) => ({ regex: `(^|/)${other}/`, message: `operator/src/${folder}/ may not import ${other}/: the layers point one way (api <- kube, kafka <- controller, autoscaler).` })),
        ...(folder === 'kafka' ? [] : [{ regex: '^@platformatic/kafka', message: `operator/src/${folder}/ may not use a Kafka client: operator/src/kafka/ is the one place that talks to the brokers.` }]),
      ],
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
  operatorLayer('api', ['kube', 'kafka', 'controller', 'autoscaler']),
  operatorLayer('kube', ['kafka', 'controller', 'autoscaler']),
  operatorLayer('kafka', ['kube', 'controller', 'autoscaler']),
  operatorLayer('autoscaler', ['controller', 'kafka']),
  operatorLayer('controller', ['autoscaler', 'kafka']),
  // The router shares the operator's API types and kube layer, nothing that decides or reconciles.
  {
    files: ['router/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: ['controller', 'autoscaler', 'kafka'].map((other) => ({ regex: `operator/src/${other}/`, message: `router/ may import operator/src/api/ and kube/ only, never ${other}/.` })),
      }],
    },
  },
);

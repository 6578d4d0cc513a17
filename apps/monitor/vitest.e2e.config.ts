export { e2eConfig as default } from '@jobgate/vitest-config/e2e';

export { integrationConfig as default } from '@jobgate/vitest-config/integration';

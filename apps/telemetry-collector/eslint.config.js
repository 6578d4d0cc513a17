export { default } from '@jobgate/eslint-config';

export { e2eConfig as default } from './src/e2e.js';

export { integrationConfig as default } from './src/integration.js';

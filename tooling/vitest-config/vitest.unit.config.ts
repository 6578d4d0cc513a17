export { unitConfig as default } from './src/unit.js';

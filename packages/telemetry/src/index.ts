export * from './events-entry.js';
export * from './setup-entry.js';
export { serviceResource, traceExporter, metricExporter } from './otel.js';

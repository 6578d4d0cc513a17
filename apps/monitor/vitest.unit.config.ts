export { unitConfig as default } from '@jobgate/vitest-config/unit';

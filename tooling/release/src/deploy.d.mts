export interface Deploy {
  app: string;
  service: string;
  command: string[];
}
export interface Plan {
  environment: 'production' | 'staging';
  deploys: Deploy[];
  skipped: { app: string; service: string }[];
  workerBundle: string;
}
export interface Mapping {
  environments: Record<
    'production' | 'staging',
    { railwayEnvironment: string; services: Record<string, string>; workerBundle: string }
  >;
}
export function environmentFor(tag: string): 'production' | 'staging';
export function loadMapping(): Mapping;
export function plan(tag: string, root: string): Plan;

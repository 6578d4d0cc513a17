export function nextVersion(current: string, bump: 'patch' | 'minor' | 'major'): string;

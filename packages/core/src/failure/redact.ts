/**
 * Removes secrets from text that will be stored or shown (attestations, logs, job results).
 * Providers echo keys back in their errors ("Incorrect API key provided: sk-proj-...") and HTTP
 * clients put full URLs with credentials into their messages, so every failure description
 * passes through here.
 */
const RULES: Array<[RegExp, string | ((...groups: string[]) => string)]> = [
  // Credentials in URLs: scheme://user:password@host, the user name possibly empty (Redis's
  // `redis://:password@host`); the password runs to the last @ before the path, so an unencoded
  // @ or : in it leaks nothing.
  [
    /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]*):([^\s/?#]+)@/gi,
    (_m, scheme, user) => `${scheme}${user}:***@`,
  ],
  // Authorization headers
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}/g, (_m, scheme) => `${scheme} ***`],
  // key=value, "key": "value", key: value for names that carry secrets
  [
    /\b((?:[a-z0-9]+[_-])*(?:api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|auth[_-]?token|token|secret|client[_-]?secret|password|passwd|pwd|authorization|signature|sig|credential|credentials))(["']?\s*[:=]\s*["']?)(?!\*\*\*|(?:Bearer|Basic|Token)\s)([^\s"'&,;}]+)/gi,
    (_m, key, sep) => `${key}${sep}***`,
  ],
  // OpenAI-style keys (sk-..., sk-proj-...), and the masked form OpenAI echoes (sk-abc*****wxyz)
  [/\bsk-[A-Za-z0-9_*-]{6,}/g, 'sk-***'],
  // Other well-known token shapes: Hugging Face, GitHub, Slack, AWS access key ids, JWTs
  [/\bhf_[A-Za-z0-9]{10,}/g, 'hf_***'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, 'gh_***'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/g, 'xox-***'],
  [/\bAKIA[0-9A-Z]{16}\b/g, 'AKIA***'],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, '<jwt redacted>'],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) {
    out =
      // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: both branches make the same call; the split only picks TypeScript's overload (equivalent)
      typeof replacement === 'string'
        ? out.replace(pattern, replacement)
        : out.replace(pattern, replacement);
  }
  return out;
}

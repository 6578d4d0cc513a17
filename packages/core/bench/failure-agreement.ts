/**
 * Agreement of the failure classifier with the plain-message corpus (src/failure/corpus): the
 * share of messages whose type, and type plus reason, match what a person would say.
 */
import { FailureClassifier } from '../src/failure/classifier.js';
import { PLAIN_MESSAGES } from '../src/failure/corpus/plain-messages.js';

let types = 0;
let both = 0;
const misses: string[] = [];
for (const { message, type, reason } of PLAIN_MESSAGES) {
  const got = FailureClassifier.classify(new Error(message));
  if (got.failure_type === type) types++;
  if (got.failure_type === type && got.failure_reason === reason) both++;
  else
    misses.push(
      `  ${message}\n    want ${type}/${reason}, got ${got.failure_type}/${got.failure_reason}`,
    );
}
const n = PLAIN_MESSAGES.length;
const pct = (k: number): string => `${((100 * k) / n).toFixed(1)}%`;
console.log(`messages: ${n}`);
console.log(`type agrees:          ${types}/${n} (${pct(types)})`);
console.log(`type + reason agree:  ${both}/${n} (${pct(both)})`);
if (misses.length > 0) console.log(`disagreements:\n${misses.join('\n')}`);

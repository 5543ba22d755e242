/** The stack is left running for fast re-runs; STACK_DOWN_AFTER_TESTS=1 stops it. */
import { loadStackConfig } from '../../scripts/stack/config';
import { down } from '../../scripts/stack/stack';

export default async function globalTeardown(): Promise<void> {
  if (process.env.STACK_DOWN_AFTER_TESTS === '1') await down(loadStackConfig());
}

/** What every appliance gives back. */
import type { Backend } from './backend.js';

/** A running appliance. */
export interface Appliance {
  readonly backend: Backend;
  stats(): Record<string, number>;
  close(): Promise<void>;
  /** Re-reads its configuration (zones), if it has any. */
  reload?(): Promise<void>;
}

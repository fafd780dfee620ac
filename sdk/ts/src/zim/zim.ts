import { ZIMCalls } from './calls.js';
import type { Core } from './core.js';

/** The IM client (the seed's ZIM). */
export class ZIM extends ZIMCalls {
  protected readonly core!: Core;
}

import { ZIMBase } from './base.js';

/** Group requests of the ZIM class. */
export abstract class ZIMGroups extends ZIMBase {}

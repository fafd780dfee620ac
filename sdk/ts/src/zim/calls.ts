import { ZIMGroups } from './groups.js';

/** Call invitation requests of the ZIM class. */
export abstract class ZIMCalls extends ZIMGroups {}

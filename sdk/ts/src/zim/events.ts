// Every event the ZIM class raises, by name: on(event, (zim, data) => …).
// Each feature declares its own handlers; this file only joins them.
import type { ConnectionEventHandler, MessageEventHandler } from './types.js';
import type { GroupEventHandler } from './groupTypes.js';
import type { CallEventHandler } from './callTypes.js';
import type { RevokeEventHandler } from './revoke.js';
import type { ConversationEventHandler } from './conversationTypes.js';
import type { PushRuleEventHandler } from './pushRules.js';

export interface ZIMEventHandler
  extends ConnectionEventHandler,
    MessageEventHandler,
    GroupEventHandler,
    CallEventHandler,
    RevokeEventHandler,
    ConversationEventHandler,
    PushRuleEventHandler {}

/** The name of a ZIM event. */
export type ZIMEventName = keyof ZIMEventHandler;

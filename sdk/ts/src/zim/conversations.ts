// The conversation settings of the ZIM class: notification status and the
// conversationChanged event.
import { ZIMBase } from './base.js';
import type {
  ZIMConversationEvent,
  ZIMConversationNotificationStatus,
  ZIMConversationNotificationStatusSetResult,
} from './conversationTypes.js';
import type { ZIMConversationType } from './types.js';
import { conversationFromWire, type WireConversation } from './wire.js';

export abstract class ZIMConversations extends ZIMBase {
  protected override attach(): void {
    super.attach();
    this.core.onServerEvent('conversationChanged', (d) => {
      const w = d as { infoList?: { event: number; conversation: WireConversation }[] };
      const me = this.core.userID;
      this.core.emit('conversationChanged', {
        infoList: (w.infoList ?? []).map((i) => ({
          event: i.event as ZIMConversationEvent,
          conversation: conversationFromWire(i.conversation, me),
        })),
      });
    });
  }

  /**
   * setConversationNotificationStatus sets this user's notification status
   * of a conversation for all its devices; every live session of the user,
   * this one too, gets conversationChanged. MentionsOnly on a peer
   * conversation fails with 40031 invalid_notification_status.
   */
  async setConversationNotificationStatus(
    status: ZIMConversationNotificationStatus | number,
    conversationID: string,
    conversationType: ZIMConversationType | number,
  ): Promise<ZIMConversationNotificationStatusSetResult> {
    await this.core.request('setConversationNotificationStatus', { status, conversationID, conversationType }, { retry: true });
    return { conversationID, conversationType: conversationType as ZIMConversationType };
  }
}

// Message revoke of the ZIM class: revokeMessage and the
// messageRevokeReceived event (docs/protocol.md, "Message revoke").
import { ZIMError, ZIMClientErrorCode } from '../errors.js';
import { ZIMCalls } from './calls.js';
import type { ZIMMessage, ZIMPushConfig, ZIMRevokeMessage } from './types.js';
import { messageFromWire, pushConfigToWire, type WireMessage } from './wire.js';
import type { ZIM } from './zim.js';

/** ZIMMessageRevokeConfig. */
export interface ZIMMessageRevokeConfig {
  /** Kept with the revoked message (at most 1 KiB). */
  revokeExtendedData?: string;
  /**
   * What replaces the notification of the message already shown on the
   * recipients' phones; without it, the original push's title with "This
   * message was revoked".
   */
  pushConfig?: ZIMPushConfig;
}

/** ZIMMessageRevokedResult. */
export interface ZIMMessageRevokedResult {
  message: ZIMRevokeMessage;
}

/** The data of messageRevokeReceived. */
export interface ZIMEventOfMessageRevokeReceivedResult {
  messageList: ZIMRevokeMessage[];
}

export interface RevokeEventHandler {
  /**
   * Messages of this user's conversations were revoked (by their sender, a
   * group's owner or admin, or the app's server): each is the revoked
   * message in its place. Every live session of every participant gets it.
   */
  messageRevokeReceived: (zim: ZIM, data: ZIMEventOfMessageRevokeReceivedResult) => void;
}

/** Message revoke of the ZIM class. */
export abstract class ZIMRevoke extends ZIMCalls {
  protected override attach(): void {
    super.attach();
    this.core.onServerEvent('messageRevokeReceived', (d) => {
      const me = this.core.userID;
      const list = ((d as { messageList?: WireMessage[] }).messageList ?? []).map((m) => messageFromWire(m, me) as ZIMRevokeMessage);
      this.core.emit('messageRevokeReceived', { messageList: list });
    });
  }

  /**
   * revokeMessage revokes a message (one with its messageID,
   * conversationID and conversationType, as sent or received) for
   * everyone: its sender may within the server's revoke window (2 minutes
   * by default), a group's owner and admins any time. It resolves with the
   * revoked message; it rejects with the server's ZIMError (40340
   * revoke_not_allowed, 40341 revoke_window_passed, 40440
   * message_not_found, 40940 message_already_revoked), nothing changed.
   */
  async revokeMessage(message: ZIMMessage, config?: ZIMMessageRevokeConfig): Promise<ZIMMessageRevokedResult> {
    if (!message || typeof message !== 'object' || !message.messageID) {
      throw new ZIMError(ZIMClientErrorCode.InvalidArgument, 'revokeMessage: the message needs its messageID');
    }
    const cfg: { revokeExtendedData?: string; pushConfig?: ZIMPushConfig } = {};
    if (config?.revokeExtendedData) cfg.revokeExtendedData = config.revokeExtendedData;
    const push = pushConfigToWire(config?.pushConfig);
    if (push) cfg.pushConfig = push;
    // A second revoke after a lost reply answers message_already_revoked:
    // not repeated, as it may have been applied.
    const r = await this.core.request<{ message: WireMessage }>('revokeMessage', {
      conversationID: message.conversationID,
      conversationType: message.conversationType,
      messageID: message.messageID,
      config: cfg,
    });
    return { message: messageFromWire(r.message, this.core.userID) as ZIMRevokeMessage };
  }
}

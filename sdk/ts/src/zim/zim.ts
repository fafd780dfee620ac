import { ZIMClientErrorCode, ZIMError } from '../errors.js';
import { getPushSide, setZIMSide, type PushRegistration, type ZIMSide } from '../internal/pushlink.js';
import { ZIMPushRules } from './pushRules.js';
import { randomHex } from './codec.js';
import { Connection } from './connection.js';
import type { ZIMEventHandler } from './events.js';
import {
  ZIMMessageDirection,
  ZIMMessagePriority,
  ZIMMessageSentStatus,
  type ZIMAppConfig,
  type ZIMConnectionState,
  type ZIMConversationListQueriedResult,
  type ZIMConversationQueryConfig,
  type ZIMConversationType,
  type ZIMConversationUnreadMessageCountClearedResult,
  type ZIMLoginConfig,
  type ZIMLogger,
  type ZIMMessage,
  type ZIMMessageQueriedResult,
  type ZIMMessageQueryConfig,
  type ZIMMessageSendConfig,
  type ZIMMessageSendNotification,
  type ZIMMessageSentResult,
  type ZIMTokenRenewedResult,
  type ZIMUserInfo,
} from './types.js';
import {
  conversationFromWire,
  messageFromWire,
  orderKeyOf,
  pushConfigToWire,
  sendBody,
  type WireConversation,
  type WireMessage,
  type WireSendReply,
  type WireSendRequest,
} from './wire.js';

// The primary instance: the one getInstance returns and whose logins carry
// the device's push registration. It is the instance created while no
// other was primary; when it is destroyed no other instance takes its place
// (a second user's client in the same process must never take the device),
// and the next ZIM.create makes the new primary.
let primary: ZIM | undefined;

/**
 * The ZIMSide of the push link: it acts for the primary instance (the one
 * ZIM.getInstance returns), the only one whose logins carry the device's
 * push registration.
 */
const zimSide: ZIMSide = {
  loggedIn: () => primary?.loggedInForPush() ?? false,
  registerPush: async (reg: PushRegistration) => {
    const z = primary;
    if (!z) throw new ZIMError(ZIMClientErrorCode.Destroyed, 'no ZIM instance');
    return z.registerPushDevice(reg);
  },
  unregisterPush: async (pushID: string) => {
    const z = primary;
    if (!z) throw new ZIMError(ZIMClientErrorCode.Destroyed, 'no ZIM instance');
    await z.unregisterPushDevice(pushID);
  },
  reportPushReceipt: async (kind, pushJobID) => {
    const z = primary;
    if (!z) throw new ZIMError(ZIMClientErrorCode.Destroyed, 'no ZIM instance');
    return (await z.reportPushReceipt(kind, pushJobID)).duplicate;
  },
};

const silentLogger: ZIMLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (m, ...a) => console.error(m, ...a),
};

/** The IM client (the seed's ZIM). */
export class ZIM extends ZIMPushRules {
  protected readonly core: Connection;
  /** The device ID logins use (config.deviceID, or the one generated for this instance). */
  readonly deviceID: string;
  private destroyed = false;

  /**
   * create returns a new ZIM instance for an app and a server. An
   * instance created while there is no primary one becomes primary: the
   * one getInstance returns and the one whose logins carry the device's
   * push registration (ZPNs). More instances (several users in one
   * process, e.g. tests or bots) are independent and never carry it, even
   * after the primary one is destroyed.
   */
  static create(config: ZIMAppConfig): ZIM {
    const z = new ZIM(config);
    if (!primary) primary = z;
    setZIMSide(zimSide);
    return z;
  }

  /** getInstance returns the primary instance (see create), or undefined once it was destroyed. */
  static getInstance(): ZIM | undefined {
    return primary;
  }

  /** getVersion returns the SDK's version. */
  static getVersion(): string {
    return '0.1.0';
  }

  private constructor(config: ZIMAppConfig) {
    super();
    const appID = typeof config?.appID === 'number' ? String(config.appID) : config?.appID;
    if (typeof appID !== 'string' || appID === '') {
      throw new ZIMError(ZIMClientErrorCode.InvalidArgument, 'ZIM.create: appID is required');
    }
    const url = wsURL(config.server);
    const deviceID = config.deviceID || `herald-${randomHex(12)}`;
    this.deviceID = deviceID;
    const hint = config.platform;
    this.core = new Connection(this, {
      appID,
      url,
      deviceID,
      platform: () => detectPlatform(hint),
      logger: config.logger ?? silentLogger,
      requestTimeout: config.requestTimeout ?? 10_000,
      loginTimeout: config.loginTimeout ?? 10_000,
      reconnectMin: 500,
      reconnectMax: 30_000,
      ackInterval: 100,
      ackBatch: 100,
      pushSide: () => (primary === this ? getPushSide() : undefined),
    });
    this.attach();
  }

  /** destroy closes the connection without logging out (the push binding stays) and releases the instance. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.core.destroy();
    if (primary === this) primary = undefined;
  }

  /** on adds a handler for an event; handlers are called (zim, data), one at a time, in the order the events happened. */
  on<K extends keyof ZIMEventHandler>(event: K, handler: ZIMEventHandler[K]): void {
    this.core.on(event, handler as never);
  }

  /** off removes a handler, or every handler of the event when none is given. */
  off<K extends keyof ZIMEventHandler>(event: K, handler?: ZIMEventHandler[K]): void {
    this.core.off(event, handler as never);
  }

  /** The connection state. */
  getConnectionState(): ZIMConnectionState {
    return this.core.connectionState;
  }

  /**
   * login logs a user in with a token minted by the app's backend. It
   * resolves once the server accepted the login and rejects with the
   * server's ZIMError when it refused it (the state goes back to
   * Disconnected). From then on the SDK stays logged in, reconnecting by
   * itself, until logout, destroy, a kick or an expired token
   * (connectionStateChanged). Also accepted: login({userID, userName}, token).
   */
  login(userID: string, config: ZIMLoginConfig): Promise<void>;
  login(userInfo: ZIMUserInfo, token: string): Promise<void>;
  login(user: string | ZIMUserInfo, config: ZIMLoginConfig | string): Promise<void> {
    const userID = typeof user === 'string' ? user : user?.userID;
    const token = typeof config === 'string' ? config : config?.token;
    return this.core.login(userID ?? '', token ?? '');
  }

  /**
   * logout sends the pending acknowledgements and logs out: the server
   * unbinds this device's push at once. Messages raised to no handler yet
   * are dropped and come again at the next login of this device.
   */
  logout(): Promise<void> {
    return this.core.logout();
  }

  /** renewToken replaces the login's token, typically on tokenWillExpire. */
  async renewToken(token: string): Promise<ZIMTokenRenewedResult> {
    await this.core.renewToken(token);
    return { token };
  }

  /**
   * sendMessage sends a message to a peer (conversationType 0: the user ID)
   * or a group (2: the group ID) and resolves once the server stored it
   * (commands: accepted it). Each send gets a localMessageID (unless the
   * message has one); a send whose reply was lost with the connection is
   * sent again with it after the reconnect login, and the server stores it
   * once. A command message (type 2, never stored) is not repeated: one in
   * flight when the connection is lost rejects with ConnectionLost. It
   * rejects with the server's ZIMError for bad input (nothing is stored) or
   * a ZIMClientErrorCode.Timeout.
   */
  async sendMessage(
    message: ZIMMessage,
    toConversationID: string,
    conversationType: ZIMConversationType | number,
    config?: ZIMMessageSendConfig,
    notification?: ZIMMessageSendNotification,
  ): Promise<ZIMMessageSentResult> {
    const body = sendBody(message);
    const localMessageID = message.localMessageID || randomHex(16);
    const req: WireSendRequest = {
      conversationID: toConversationID,
      conversationType,
      localMessageID,
      ...body,
      priority: config?.priority ?? 0,
    };
    if (message.extendedData) req.extendedData = message.extendedData;
    if (message.mentionedUserIDs?.length) req.mentionedUserIDs = message.mentionedUserIDs;
    if (message.isMentionAll) req.isMentionAll = true;
    const push = pushConfigToWire(config?.pushConfig);
    if (push) req.pushConfig = push;
    const sending = {
      ...message,
      localMessageID,
      conversationID: toConversationID,
      conversationType: conversationType as ZIMConversationType,
      senderUserID: this.core.userID,
      direction: ZIMMessageDirection.Send,
      sentStatus: ZIMMessageSentStatus.Sending,
      priority: (req.priority || ZIMMessagePriority.Medium) as ZIMMessagePriority,
    } as ZIMMessage;
    notification?.onMessageAttached?.(sending);
    const r = await this.core.call<WireSendReply>('send', req, {
      // The server stores a message once per localMessageID, so a send is
      // repeated after a lost reply; a command is not stored, so not.
      retry: body.type !== 2,
      localMessageID,
      onReply: (f) => {
        const d = f.data as WireSendReply | undefined;
        if (!f.error && d && (d.conversationSeq ?? 0) > 0) {
          this.core.ownSent(toConversationID, conversationType, d.conversationSeq!);
        }
      },
    });
    const seq = r.conversationSeq ?? 0;
    return {
      message: {
        ...sending,
        messageID: r.messageID,
        conversationSeq: seq,
        orderKey: seq,
        timestamp: r.timestamp,
        sentStatus: ZIMMessageSentStatus.Success,
      } as ZIMMessage,
    };
  }

  /**
   * queryHistoryMessage returns a page of a conversation's stored messages,
   * oldest first. Without reverse it pages back from the newest: pass the
   * page's messageList[0] as nextMessage for the page before it. With
   * reverse it pages forward from the first message: pass the page's last
   * message for the page after it. A group member sees only the messages
   * sent after it joined, either way. An empty messageList is the end.
   */
  async queryHistoryMessage(
    conversationID: string,
    conversationType: ZIMConversationType | number,
    config?: ZIMMessageQueryConfig,
  ): Promise<ZIMMessageQueriedResult> {
    const count = config?.count ?? 0;
    const anchor = config?.nextMessage?.conversationSeq ?? 0;
    const conversation = { conversationID, conversationType: conversationType as ZIMConversationType };
    let req: { conversationID: string; conversationType: number; count: number; beforeSeq?: number; afterSeq?: number };
    if (config?.reverse) {
      // The server pages forward from afterSeq, oldest first.
      req = { conversationID, conversationType, afterSeq: anchor, count };
    } else {
      if (config?.nextMessage && anchor <= 1) return { ...conversation, messageList: [] }; // nothing precedes the first message
      req = { conversationID, conversationType, beforeSeq: anchor, count };
    }
    const r = await this.core.call<{ messages?: WireMessage[] }>('history', req, { retry: true });
    const me = this.core.userID;
    const list = (r.messages ?? []).map((m) => messageFromWire(m, me));
    // Backward pages come newest first; the list is oldest first either way.
    if (!config?.reverse) list.reverse();
    return { ...conversation, messageList: list };
  }

  /**
   * queryConversationList returns a page of the user's conversations, most
   * recently active first, with their unread counts and last messages. Pass
   * the page's last conversation as nextConversation for the next page.
   */
  async queryConversationList(config?: ZIMConversationQueryConfig): Promise<ZIMConversationListQueriedResult> {
    const r = await this.core.call<{ conversations?: WireConversation[] }>(
      'conversationList',
      { count: config?.count ?? 0, before: orderKeyOf(config?.nextConversation) },
      { retry: true },
    );
    const me = this.core.userID;
    return { conversationList: (r.conversations ?? []).map((c) => conversationFromWire(c, me)) };
  }

  /** clearConversationUnreadMessageCount marks every message of a conversation read. */
  async clearConversationUnreadMessageCount(
    conversationID: string,
    conversationType: ZIMConversationType | number,
  ): Promise<ZIMConversationUnreadMessageCountClearedResult> {
    await this.core.call('markRead', { conversationID, conversationType, seq: 0 }, { retry: true });
    return { conversationID, conversationType: conversationType as ZIMConversationType };
  }

  // ---- the push link (internal: used by ZPNs through ZIMSide) ----

  /** @internal */
  loggedInForPush(): boolean {
    return this.core.loggedIn;
  }

  /**
   * The app's VAPID public key (base64url) from the last login, '' before
   * one or when the app has no Web Push credential: the
   * applicationServerKey of webPushSource (Herald's own, not in the seed).
   */
  getWebPushKey(): string {
    return this.core.webPushKey;
  }

  /** @internal */
  registerPushDevice(reg: PushRegistration): Promise<string> {
    return this.core.registerPush(reg);
  }

  /** @internal */
  unregisterPushDevice(pushID: string): Promise<void> {
    return this.core.unregisterPush(pushID);
  }

  /**
   * reportPushReceipt tells the server that the push whose extras carried
   * pushJobID (ZPNsMessage.extras.push_id) reached the device
   * ('notificationArrived') or was tapped ('notificationClicked'), for the
   * app's push statistics (docs/protocol.md, pushReceipt). One receipt
   * per push and kind is counted: duplicate is true when the server had
   * it already. Rejects with the server's code, nothing recorded:
   * 40045 (bad kind or ID), 40046 (the push's vendor raises no such
   * callback), 40445 (no push of this app sent to this user). ZPNs
   * reports its callbacks itself once ZPNs.enablePushReceipts was called.
   */
  async reportPushReceipt(kind: 'notificationArrived' | 'notificationClicked', pushJobID: string): Promise<{ duplicate: boolean }> {
    const r = await this.core.call<{ duplicate?: boolean }>('pushReceipt', { kind, pushJobID }, { retry: true });
    return { duplicate: r?.duplicate === true };
  }
}

/** wsURL turns ZIM.create's server into the WebSocket endpoint's URL. */
function wsURL(server: string): string {
  if (typeof server !== 'string') {
    throw new ZIMError(ZIMClientErrorCode.InvalidArgument, 'ZIM.create: server (ws:// or wss:// URL) is required');
  }
  const m = /^(wss?|https?):\/\/([^/?#]+)([^?#]*)$/i.exec(server.trim());
  if (!m) {
    throw new ZIMError(ZIMClientErrorCode.InvalidArgument, `ZIM.create: server ${JSON.stringify(server)} must be a ws://, wss://, http:// or https:// URL`);
  }
  const scheme = m[1]!.toLowerCase();
  const proto = scheme === 'http' ? 'ws' : scheme === 'https' ? 'wss' : scheme;
  let path = m[3]!.replace(/\/+$/, '');
  if (!path.endsWith('/v1/ws')) path += '/v1/ws';
  return `${proto}://${m[2]}${path}`;
}

/** detectPlatform resolves login.platform: the caller's hint, else the runtime's. */
function detectPlatform(hint: string | undefined): string {
  const g = globalThis as {
    navigator?: { product?: string };
    process?: { platform?: string; versions?: { node?: string } };
    document?: unknown;
  };
  if (hint) {
    const h = hint.toLowerCase();
    return h === 'win32' ? 'windows' : h === 'darwin' ? 'macos' : h;
  }
  if (g.navigator?.product === 'ReactNative') {
    const vendor = getPushSide()?.registration()?.vendor;
    return vendor === 'apns' ? 'ios' : vendor === 'harmony' ? 'harmonyos' : 'android';
  }
  if (g.process?.versions?.node) {
    switch (g.process.platform) {
      case 'darwin':
        return 'macos';
      case 'win32':
        return 'windows';
      default:
        return 'linux';
    }
  }
  return 'web';
}

// The ZIM class is built in layers so that each feature lives in its own
// file: ZIMBase (the connection, below) ← ZIMConversations
// (conversations.ts: notification status) ← ZIMGroups (groups.ts) ←
// ZIMCalls (calls.ts) ← ZIMRevoke (revoke.ts) ← ZIMPushRules
// (pushRules.ts) ← ZIM (zim.ts: login, messages, conversations,
// events).
import type { Core } from './core.js';

export abstract class ZIMBase {
  /** The connection the feature layers send through. */
  protected abstract readonly core: Core;

  /**
   * attach runs once, from ZIM's constructor, as soon as core is set (the
   * layers' own constructors run before it is). A feature layer overrides
   * it to subscribe to server events (core.onServerEvent, core.onLoggedIn)
   * and calls super.attach().
   */
  protected attach(): void {}
}

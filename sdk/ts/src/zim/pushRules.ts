// The user offline push rule of the ZIM class, under ZIM's names
// (ZEGOCLOUD "Set custom push rules",
// zegocloud.com/docs/zim-web/offline-push-notifications/set-custom-push-rules):
// updateUserOfflinePushRule, querySelfUserInfo (whose userRule carries the
// rule) and the userRuleUpdated event.
import { ZIMRevoke } from './revoke.js';
import type { ZIM } from './zim.js';

/** ZIMPlatformType: the platforms a push rule names. */
export enum ZIMPlatformType {
  Win = 1,
  IPhoneOS = 2,
  Android = 3,
  MacOS = 4,
  Linux = 5,
  Web = 6,
  MiniProgram = 7,
  IPadOS = 9,
}

/**
 * ZIMUserOfflinePushRule: while the user is online on one of
 * onlinePlatforms, its devices on one of notToReceiveOfflinePushPlatforms
 * get no offline push.
 */
export interface ZIMUserOfflinePushRule {
  onlinePlatforms: ZIMPlatformType[];
  notToReceiveOfflinePushPlatforms: ZIMPlatformType[];
}

/** ZIMUserRule: the user's rules. */
export interface ZIMUserRule {
  offlinePushRule: ZIMUserOfflinePushRule;
}

/** The result of updateUserOfflinePushRule: the rule as stored. */
export interface ZIMUserOfflinePushRuleUpdatedResult {
  offlinePushRule: ZIMUserOfflinePushRule;
}

/** ZIMSelfUserInfo: the user's rule and profile. */
export interface ZIMSelfUserInfo {
  userRule: ZIMUserRule;
  userFullInfo: { baseInfo: { userID: string; userName: string }; userAvatarUrl: string; extendedData: string };
}

/** The result of querySelfUserInfo. */
export interface ZIMSelfUserInfoQueriedResult {
  selfUserInfo: ZIMSelfUserInfo;
}

/** The data of userRuleUpdated. */
export interface ZIMEventOfUserRuleUpdatedResult {
  userRule: ZIMUserRule;
}

export interface PushRuleEventHandler {
  /** The user's offline push rule changed, on any of its devices (this one too). */
  userRuleUpdated: (zim: ZIM, data: ZIMEventOfUserRuleUpdatedResult) => void;
}

interface WireRule {
  onlinePlatforms?: number[];
  notToReceiveOfflinePushPlatforms?: number[];
}

function ruleFromWire(w: WireRule | undefined): ZIMUserOfflinePushRule {
  return {
    onlinePlatforms: [...(w?.onlinePlatforms ?? [])] as ZIMPlatformType[],
    notToReceiveOfflinePushPlatforms: [...(w?.notToReceiveOfflinePushPlatforms ?? [])] as ZIMPlatformType[],
  };
}

/** Push rule requests and events of the ZIM class. */
export abstract class ZIMPushRules extends ZIMRevoke {
  protected override attach(): void {
    super.attach();
    this.core.onServerEvent('userRuleUpdated', (d) => {
      const w = d as { userRule?: { offlinePushRule?: WireRule } };
      this.core.emit('userRuleUpdated', { userRule: { offlinePushRule: ruleFromWire(w.userRule?.offlinePushRule) } });
    });
  }

  /**
   * updateUserOfflinePushRule sets the user's offline push rule and
   * resolves with it as stored (sorted, repeats once); every session of
   * the user gets userRuleUpdated. A platform that is not a
   * ZIMPlatformType rejects with 40035 invalid_push_platform, a list of
   * more than 16 with 40036 too_many_push_platforms; nothing changes then.
   */
  async updateUserOfflinePushRule(offlinePushRule: ZIMUserOfflinePushRule): Promise<ZIMUserOfflinePushRuleUpdatedResult> {
    const r = await this.core.request<{ offlinePushRule: WireRule }>(
      'updateUserOfflinePushRule',
      {
        offlinePushRule: {
          onlinePlatforms: [...(offlinePushRule?.onlinePlatforms ?? [])],
          notToReceiveOfflinePushPlatforms: [...(offlinePushRule?.notToReceiveOfflinePushPlatforms ?? [])],
        },
      },
      { retry: true },
    );
    return { offlinePushRule: ruleFromWire(r.offlinePushRule) };
  }

  /** querySelfUserInfo resolves with the user's rule (both lists empty while it has none) and profile. */
  async querySelfUserInfo(): Promise<ZIMSelfUserInfoQueriedResult> {
    const r = await this.core.request<{
      userRule: { offlinePushRule: WireRule };
      userFullInfo: { userID: string; nickname: string; avatarURL: string; extra: string };
    }>('querySelfUserInfo', {}, { retry: true });
    const u = r.userFullInfo;
    return {
      selfUserInfo: {
        userRule: { offlinePushRule: ruleFromWire(r.userRule?.offlinePushRule) },
        userFullInfo: {
          baseInfo: { userID: u?.userID ?? '', userName: u?.nickname ?? '' },
          userAvatarUrl: u?.avatarURL ?? '',
          extendedData: u?.extra ?? '',
        },
      },
    };
  }
}

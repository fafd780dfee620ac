// Call invitation requests and events of the ZIM class: the seed's ZIM
// names over the wire of docs/protocol.md ("Calls"), mapped as the Go SDK's
// calls.go does. Rules live on the server; this file translates, and keeps
// each ringing invitation from reaching the app twice.
import { ZIMGroups } from './groups.js';
import type { ZIMErrorUserInfo } from './groupTypes.js';
import {
  ZIMCallUserState,
  type ZIMCallAcceptanceSentResult,
  type ZIMCallAcceptConfig,
  type ZIMCallCancelConfig,
  type ZIMCallCancelSentResult,
  type ZIMCallEndConfig,
  type ZIMCallEndSentResult,
  type ZIMCallInfo,
  type ZIMCallInfoQueriedResult,
  type ZIMCallingInvitationSentResult,
  type ZIMCallingInviteConfig,
  type ZIMCallInvitationMode,
  type ZIMCallInvitationSentResult,
  type ZIMCallInviteConfig,
  type ZIMCallJoinConfig,
  type ZIMCallJoinSentResult,
  type ZIMCallQuitConfig,
  type ZIMCallQuitSentResult,
  type ZIMCallRejectConfig,
  type ZIMCallRejectionSentResult,
  type ZIMCallUserInfo,
} from './callTypes.js';
import { pushConfigToWire } from './wire.js';

// The wire (internal/protocol/call.go).
interface WireCallUser {
  userID: string;
  state: number;
  extendedData?: string;
  updatedAt?: number;
}
interface WireErrorUser {
  userID: string;
  code: number;
  reason?: string;
}
interface WireInviteReply {
  callID: string;
  timeout: number;
  deadline: number;
  errorInvitees?: WireErrorUser[] | null;
}
interface WireCallReply {
  callID?: string;
  errorInvitees?: WireErrorUser[] | null;
}
interface WireCallInfo {
  callID: string;
  inviter: string;
  mode: number;
  extendedData?: string;
  createdAt: number;
  deadline: number;
  ended: boolean;
  callUserList?: WireCallUser[] | null;
}
interface WireReceived {
  callID: string;
  inviter: string;
  mode: number;
  timeout: number;
  deadline: number;
  extendedData?: string;
  createdAt: number;
  callUserList?: WireCallUser[] | null;
}
interface WireCancelled {
  callID: string;
  inviter: string;
  mode: number;
  extendedData?: string;
}
interface WireTimeout {
  callID: string;
  mode: number;
}
interface WireStateChanged {
  callID: string;
  callUserList?: WireCallUser[] | null;
}
interface WireEnded {
  callID: string;
  operatedBy: string;
  mode: number;
  extendedData?: string;
  endedAt: number;
}


function callUsersFromWire(us: WireCallUser[] | null | undefined): ZIMCallUserInfo[] {
  return (us ?? []).map((u) => ({
    userID: u.userID,
    state: u.state as ZIMCallUserState,
    extendedData: u.extendedData ?? '',
    updateTime: u.updatedAt ?? 0,
  }));
}

function errorUsersFromWire(us: WireErrorUser[] | null | undefined): ZIMErrorUserInfo[] {
  return (us ?? []).map((u) => ({ userID: u.userID, reason: u.code, message: u.reason ?? '' }));
}

function callInfoFromWire(c: WireCallInfo): ZIMCallInfo {
  return {
    callID: c.callID,
    caller: c.inviter,
    inviter: c.inviter,
    mode: c.mode as ZIMCallInvitationMode,
    extendedData: c.extendedData ?? '',
    createTime: c.createdAt,
    deadline: c.deadline,
    ended: c.ended,
    callUserList: callUsersFromWire(c.callUserList),
  };
}

/**
 * timeoutToWire gives the wire's whole seconds, rounding up; what is not a
 * number of seconds (negative, NaN, a string) becomes -1 for the server to
 * refuse with invalid_timeout — JSON would turn NaN into null, which the
 * server reads as "the default".
 */
function timeoutToWire(t: number | undefined): number | undefined {
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) return -1;
  return Math.ceil(t);
}

/** ringingState: the states in which an invitation still rings. */
function ringing(state: number): boolean {
  return state === ZIMCallUserState.Inviting || state === ZIMCallUserState.Received;
}

/** Slack past a ring's deadline before the SDK forgets it (clock skew, late frames). */
const ringSlackMs = 5_000;

/** Call invitation requests and events of the ZIM class. */
export abstract class ZIMCalls extends ZIMGroups {
  /**
   * The invitations ringing for this user that the app was told about, by
   * call ID, with the local time after which they stop ringing. The server
   * sends a ringing invitation again at each login (and may send it twice
   * when a login races the invitation): those copies do not reach the app.
   * An invitation leaves the map when it stops ringing (answered,
   * cancelled, timed out, ended); a later invitation in the same call (an
   * advanced call's callingInvite) then rings again.
   */
  private readonly rung = new Map<string, number>();
  /** The user whose invitations rung holds. */
  private rungFor = '';

  protected override attach(): void {
    super.attach();
    this.core.onLoggedIn((info) => {
      // The app's own login starts afresh (it may have dropped its ringing
      // UI at logout); a reconnect login keeps what the app was told.
      if (!info?.reconnect || this.core.userID !== this.rungFor) this.rung.clear();
      this.rungFor = this.core.userID;
      if (info?.reconnect) for (const callID of this.rung.keys()) void this.resyncRing(callID);
    });
    this.core.onServerEvent('callInvitationReceived', (d) => this.onReceived(d as WireReceived));
    this.core.onServerEvent('callInvitationCancelled', (d) => {
      const w = d as WireCancelled;
      this.rung.delete(w.callID);
      this.core.emit('callInvitationCancelled', {
        callID: w.callID,
        inviter: w.inviter,
        mode: w.mode as ZIMCallInvitationMode,
        extendedData: w.extendedData ?? '',
      });
    });
    this.core.onServerEvent('callInvitationTimeout', (d) => {
      const w = d as WireTimeout;
      this.rung.delete(w.callID);
      this.core.emit('callInvitationTimeout', { callID: w.callID, mode: w.mode as ZIMCallInvitationMode });
    });
    this.core.onServerEvent('callInvitationEnded', (d) => {
      const w = d as WireEnded;
      this.rung.delete(w.callID);
      this.core.emit('callInvitationEnded', {
        callID: w.callID,
        mode: w.mode as ZIMCallInvitationMode,
        operatedUserID: w.operatedBy,
        extendedData: w.extendedData ?? '',
        endTime: w.endedAt,
      });
    });
    this.core.onServerEvent('callUserStateChanged', (d) => {
      const w = d as WireStateChanged;
      const users = callUsersFromWire(w.callUserList);
      const me = users.find((u) => u.userID === this.core.userID);
      if (me && !ringing(me.state)) this.rung.delete(w.callID);
      this.core.emit('callUserStateChanged', { callID: w.callID, callUserList: users });
    });
  }

  /**
   * resyncRing asks the server about an invitation the app has ringing,
   * after a reconnect: call events are not stored, so one that went to the
   * lost connection (a cancel, a timeout, an answer on another device, the
   * end of the call) is raised now from the call's state, as the live
   * event would have been. What the state does not keep is left empty: the
   * operatedUserID and extendedData of callInvitationEnded.
   */
  private async resyncRing(callID: string): Promise<void> {
    let info: ZIMCallInfo;
    try {
      info = callInfoFromWire(await this.core.request<WireCallInfo>('callInfo', { callID }, { retry: true }));
    } catch {
      return; // the next reconnect tries again; the deadline forgets it
    }
    const me = info.callUserList.find((u) => u.userID === this.core.userID);
    if (!me || ringing(me.state) || !this.rung.has(callID)) return;
    this.rung.delete(callID);
    switch (me.state) {
      case ZIMCallUserState.Cancelled:
        this.core.emit('callInvitationCancelled', {
          callID,
          inviter: info.inviter,
          mode: info.mode,
          extendedData: me.extendedData,
        });
        break;
      case ZIMCallUserState.Timeout:
        this.core.emit('callInvitationTimeout', { callID, mode: info.mode });
        break;
      case ZIMCallUserState.Ended:
        this.core.emit('callInvitationEnded', {
          callID,
          mode: info.mode,
          operatedUserID: '',
          extendedData: '',
          endTime: me.updateTime,
        });
        return; // the live end comes without a state change
    }
    this.core.emit('callUserStateChanged', { callID, callUserList: [me] });
  }

  private onReceived(w: WireReceived): void {
    const now = Date.now();
    for (const [id, until] of this.rung) if (until < now) this.rung.delete(id);
    if (this.rung.has(w.callID)) return; // the app has it ringing already
    this.rung.set(w.callID, now + Math.max(w.timeout, 0) * 1000 + ringSlackMs);
    this.core.emit('callInvitationReceived', {
      callID: w.callID,
      inviter: w.inviter,
      mode: w.mode as ZIMCallInvitationMode,
      timeout: w.timeout,
      deadline: w.deadline,
      extendedData: w.extendedData ?? '',
      createTime: w.createdAt,
      callUserList: callUsersFromWire(w.callUserList),
    });
  }

  /**
   * callInvite rings invitees in a new call. Invitees with a live session
   * get callInvitationReceived at once; the others get a push when
   * config.pushConfig is set, and the event when they log in before the
   * deadline. Unknown invitees go to errorUserList; the request fails
   * (40401 user_not_found) only when none is left. Bad input is refused
   * by the server: 40016 invalid_invitees (none, over 32, oneself), 40017
   * invalid_timeout (not 1–600 s), 40003 invalid_argument (mode).
   */
  async callInvite(invitees: string[], config?: ZIMCallInviteConfig): Promise<ZIMCallInvitationSentResult> {
    const r = await this.core.request<WireInviteReply>('callInvite', {
      invitees,
      mode: config?.mode,
      timeout: timeoutToWire(config?.timeout),
      extendedData: config?.extendedData || undefined,
      pushConfig: pushConfigToWire(config?.pushConfig),
    });
    const errs = errorUsersFromWire(r.errorInvitees);
    return { callID: r.callID, timeout: r.timeout, deadline: r.deadline, errorUserList: errs, errorInvitees: errs };
  }

  /**
   * callingInvite rings more users into an advanced-mode call this user is
   * in. Users already ringing or in the call go to errorUserList (40016
   * invalid_invitees).
   */
  async callingInvite(
    invitees: string[],
    callID: string,
    config?: ZIMCallingInviteConfig,
  ): Promise<ZIMCallingInvitationSentResult> {
    const r = await this.core.request<WireInviteReply>('callingInvite', {
      callID,
      invitees,
      timeout: timeoutToWire(config?.timeout),
      pushConfig: pushConfigToWire(config?.pushConfig),
    });
    return { callID: r.callID, timeout: r.timeout, deadline: r.deadline, errorUserList: errorUsersFromWire(r.errorInvitees) };
  }

  /** callAccept accepts a ringing invitation (40904 call_already_answered, 41001 call_ended otherwise). */
  async callAccept(callID: string, config?: ZIMCallAcceptConfig): Promise<ZIMCallAcceptanceSentResult> {
    await this.callAction('callAccept', callID, config?.extendedData);
    return { callID };
  }

  /** callReject rejects a ringing invitation. */
  async callReject(callID: string, config?: ZIMCallRejectConfig): Promise<ZIMCallRejectionSentResult> {
    await this.callAction('callReject', callID, config?.extendedData);
    return { callID };
  }

  /**
   * callCancel cancels this user's invitations still ringing: those to
   * invitees, or all of them when invitees is empty (inviter only: 40301
   * permission_denied otherwise). Cancelled invitees get
   * callInvitationCancelled; named ones that could not be cancelled are
   * listed in errorInvitees. With pushConfig the cancelled invitees without
   * a live session get that push.
   */
  async callCancel(invitees: string[], callID: string, config?: ZIMCallCancelConfig): Promise<ZIMCallCancelSentResult> {
    const r = await this.core.request<WireCallReply>('callCancel', {
      callID,
      invitees: invitees && invitees.length > 0 ? invitees : undefined,
      extendedData: config?.extendedData || undefined,
      pushConfig: pushConfigToWire(config?.pushConfig),
    });
    const errs = errorUsersFromWire(r.errorInvitees);
    return { callID: r.callID || callID, errorInvitees: errs.map((e) => e.userID), errorUserList: errs };
  }

  /**
   * callJoin joins (or rejoins) an advanced-mode call this user was
   * invited to; joining twice is harmless.
   */
  async callJoin(callID: string, config?: ZIMCallJoinConfig): Promise<ZIMCallJoinSentResult> {
    // Joining twice is harmless: safe to send again after a reconnect.
    const r = await this.core.request<WireCallInfo>(
      'callJoin',
      { callID, extendedData: config?.extendedData || undefined },
      { retry: true },
    );
    this.rung.delete(callID);
    const info = callInfoFromWire(r);
    const me = info.callUserList.find((u) => u.userID === this.core.userID);
    return {
      callID: info.callID,
      createTime: info.createTime,
      joinTime: me?.updateTime ?? 0,
      extendedData: info.extendedData,
      callUserList: info.callUserList,
    };
  }

  /** callQuit leaves an advanced-mode call; the last participant to quit ends it. */
  async callQuit(callID: string, config?: ZIMCallQuitConfig): Promise<ZIMCallQuitSentResult> {
    await this.callAction('callQuit', callID, config?.extendedData);
    return { callID };
  }

  /** callEnd ends an advanced-mode call for everyone in it or ringing. */
  async callEnd(callID: string, config?: ZIMCallEndConfig): Promise<ZIMCallEndSentResult> {
    await this.callAction('callEnd', callID, config?.extendedData);
    return { callID };
  }

  /**
   * queryCallInfo returns a call this user started or was invited to, with
   * every user's state (the Go SDK's QueryCallInfo; ZIM has no single-call
   * query). A client that was offline asks it: call events are not stored.
   */
  async queryCallInfo(callID: string): Promise<ZIMCallInfoQueriedResult> {
    const r = await this.core.request<WireCallInfo>('callInfo', { callID }, { retry: true });
    return { callInfo: callInfoFromWire(r) };
  }

  private async callAction(type: string, callID: string, extendedData: string | undefined): Promise<void> {
    await this.core.request(type, { callID, extendedData: extendedData || undefined });
    this.rung.delete(callID);
  }
}

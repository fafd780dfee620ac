package push

// harmonyCapabilities is HarmonyOS NEXT's row of the capability table.
// The seed's table predates HarmonyOS NEXT; the row follows Huawei's
// Push Kit documentation for HarmonyOS 5+:
//
//   - A notification message (push-type 0) is shown by the system in every
//     app state ("Push Kit通过提供系统级长链接，即使应用进程不在也能实时推送消息";
//     notification.foregroundShow defaults to true, so it is shown in the
//     foreground too). The app gets no callback when it arrives: Push Kit
//     hands the app the notification only when the user taps it (the
//     click action's want), so notificationArrived never fires.
//   - A background message (push-type 6) is handed to the app through
//     pushService.receiveMessage('BACKGROUND') when the app process is in
//     the foreground; otherwise Push Kit caches it until the app starts
//     ("如果应用进程在前台则将消息内容传给应用；如果应用进程不在前台则缓存消息，
//     等待应用启动后再传给应用", push-scenariozed-api-intro): no callback in
//     the background or killed states at arrival.
//
// Sources: https://developer.huawei.com/consumer/cn/doc/harmonyos-references/push-scenariozed-api-intro,
// https://developer.huawei.com/consumer/cn/doc/harmonyos-references/push-pushcommon.
var harmonyCapabilities = map[AppState]Capability{
	StateForeground: {Displayed: true, ThroughMessageReceived: true},
	StateBackground: {Displayed: true},
	StateKilled:     {Displayed: true},
}

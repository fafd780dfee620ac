// Package tray models a phone's notification tray for the vendor
// emulators: a notification shown replaces the ones it shares its
// vendor's replace key with (apns-collapse-id, FCM tag, notify_id, ...).
// Which key, and whether a notification without one replaces anything, is
// each emulator's own rule; this package only keeps the tray.
package tray

// Show returns shown (oldest first) with item appended, after removing
// every shown notification that item replaces. It reuses shown's array.
func Show[T any](shown []T, item T, replaces func(old T) bool) []T {
	kept := shown[:0]
	for _, t := range shown {
		if !replaces(t) {
			kept = append(kept, t)
		}
	}
	return append(kept, item)
}

package tray

import (
	"slices"
	"testing"
)

func TestShow(t *testing.T) {
	type n struct{ key, text string }
	byKey := func(item n) func(n) bool {
		return func(old n) bool { return item.key != "" && old.key == item.key }
	}
	tests := []struct {
		name string
		show []n
		want []string
	}{
		{"each new", []n{{"", "a"}, {"", "b"}}, []string{"a", "b"}},
		{"same key replaces", []n{{"k", "ring"}, {"", "msg"}, {"k", "cancel"}}, []string{"msg", "cancel"}},
		{"other key kept", []n{{"k", "ring"}, {"j", "other"}}, []string{"ring", "other"}},
		{"empty tray", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var shown []n
			for _, item := range tc.show {
				shown = Show(shown, item, byKey(item))
			}
			var got []string
			for _, s := range shown {
				got = append(got, s.text)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("tray %v, want %v", got, tc.want)
			}
		})
	}
}

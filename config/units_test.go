package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90s", 90 * time.Second, ""},
		{"12h", 12 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"3d", 72 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"0", 0, ""},
		{" 5s ", 5 * time.Second, ""},
		{"", 0, "empty duration"},
		{"-5s", 0, `negative duration "-5s"`},
		{"-3d", 0, `negative duration "-3d"`},
		{"3x", 0, `bad duration "3x"`},
		{"d", 0, `bad duration "d"`},
		{"3d-1h", 0, `negative duration "3d-1h"`},
		{"+5s", 0, `bad duration "+5s"`},
		{"1.5d", 0, `bad duration "1.5d"`},
		{"10", 0, `bad duration "10"`},
		{"999999999d", 0, `duration "999999999d" is too long`},
		{"106751d24h", 0, `duration "106751d24h" is too long`},
	} {
		got, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error starting %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, ""},
		{"4K", 4 << 10, ""},
		{"800M", 800 << 20, ""},
		{"500G", 500 << 30, ""},
		{"1T", 1 << 40, ""},
		{"2t", 2 << 40, ""},
		{"", 0, "empty size"},
		{"-1G", 0, `negative size "-1G"`},
		{"G", 0, `bad size "G"`},
		{"1.5G", 0, `bad size "1.5G"`},
		{"10GB", 0, `bad size "10GB"`},
		{"8388608T", 0, `size "8388608T" is too large`},
		{"99999999999999999999", 0, `size "99999999999999999999" is too large`},
	} {
		got, err := ParseSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("ParseSize(%q) = %v, %v; want error starting %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestUnitsRoundTrip(t *testing.T) {
	for _, d := range []Duration{Duration(3 * 24 * time.Hour), Duration(90 * time.Second), Duration(36 * time.Hour)} {
		b, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("duration %v -> %q -> %v, %v", d.D(), b, back.D(), err)
		}
	}
	for _, s := range []Size{0, 1, 4 << 10, 500 << 30, 3<<40 + 1} {
		b, _ := s.MarshalText()
		var back Size
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("size %d -> %q -> %d, %v", s, b, back, err)
		}
	}
	var s Size
	if err := s.UnmarshalTOML(int64(4096)); err != nil || s != 4096 {
		t.Errorf("UnmarshalTOML(4096) = %d, %v", s, err)
	}
	if err := s.UnmarshalTOML(int64(-1)); err == nil {
		t.Errorf("UnmarshalTOML(-1) succeeded")
	}
}

package udp

import (
	"bytes"
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	const wrap = int64(1) << 33
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name    string
		samples []int64
		want    []time.Duration
	}{
		{"regular", []int64{1000, 4600, 8200}, []time.Duration{0, ms(40), ms(80)}},
		{"33-bit wrap", []int64{wrap - 1800, 1800, 5400}, []time.Duration{0, ms(40), ms(80)}},
		{"loop back to start", []int64{1000, 4600, 8200, 1000, 4600}, []time.Duration{0, ms(40), ms(80), ms(120), ms(160)}},
		{"jump forward", []int64{0, 1800, 90000 * 3600, 90000*3600 + 1800}, []time.Duration{0, ms(20), ms(40), ms(60)}},
		{"repeated sample", []int64{0, 0, 3600}, []time.Duration{0, 0, ms(40)}},
		{"discontinuity first", []int64{90000, 0}, []time.Duration{0, ms(40)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p pacer
			for i, ts := range tt.samples {
				if got := p.observe(ts); got != tt.want[i] {
					t.Fatalf("sample %d (%d): position %v, want %v", i, ts, got, tt.want[i])
				}
			}
		})
	}
}

// pesPacket builds a TS packet of pid that starts a PES packet with pts
// (and dts when not negative).
func pesPacket(pid int, pts, dts int64) []byte {
	p := bytes.Repeat([]byte{0xff}, tsPacket)
	p[0], p[1], p[2], p[3] = 0x47, 0x40|byte(pid>>8), byte(pid), 0x10
	h := p[4:]
	copy(h, []byte{0, 0, 1, 0xe0, 0, 0, 0x80})
	enc := func(b []byte, marker byte, v int64) {
		b[0] = marker<<4 | byte(v>>29)&0x0e | 1
		b[1], b[2] = byte(v>>22), byte(v>>14)|1
		b[3], b[4] = byte(v>>7), byte(v<<1)|1
	}
	if dts < 0 {
		h[7], h[8] = 0x80, 5
		enc(h[9:], 2, pts)
	} else {
		h[7], h[8] = 0xc0, 10
		enc(h[9:], 3, pts)
		enc(h[14:], 1, dts)
	}
	return p
}

// pcrPacket builds an adaptation-field-only TS packet of pid with a PCR.
func pcrPacket(pid int, base int64) []byte {
	p := bytes.Repeat([]byte{0xff}, tsPacket)
	p[0], p[1], p[2], p[3] = 0x47, byte(pid>>8), byte(pid), 0x20
	p[4], p[5] = 183, 0x10
	p[6], p[7], p[8], p[9] = byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1)
	p[10] = byte(base<<7) | 0x7e
	p[11] = 0
	return p
}

func TestClock(t *testing.T) {
	big := int64(1)<<33 - 12345
	tests := []struct {
		name    string
		stream  [][]byte
		want    clock
		wantTS  int64 // of the last packet
		wantErr string
	}{
		{name: "pcr wins", stream: [][]byte{pesPacket(0x100, 9000, -1), pcrPacket(0x101, big)}, want: clock{pid: 0x101, pcr: true}, wantTS: big},
		{name: "pts only", stream: [][]byte{pesPacket(0x100, big, -1)}, want: clock{pid: 0x100}, wantTS: big},
		{name: "dts before pts", stream: [][]byte{pesPacket(0x100, 9000, 5400)}, want: clock{pid: 0x100}, wantTS: 5400},
		{name: "garbage then pts", stream: [][]byte{{1, 2, 3, 0x47}, pesPacket(0x42, 1, -1)}, want: clock{pid: 0x42}, wantTS: 1},
		{name: "no timestamps", stream: [][]byte{bytes.Repeat([]byte{0x47, 0x1f, 0xff, 0x10}, 47)}, wantErr: "no PCR or PTS"},
		{name: "empty", wantErr: "file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Join(tt.stream, nil)
			got, err := findClock(bytes.NewReader(data))
			if tt.wantErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
					t.Fatalf("findClock = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("findClock = %+v, %v; want %+v", got, err, tt.want)
			}
			last := tt.stream[len(tt.stream)-1]
			if ts, ok := got.timestamp(last); !ok || ts != tt.wantTS {
				t.Fatalf("timestamp = %d, %v; want %d", ts, ok, tt.wantTS)
			}
		})
	}
}

func FuzzClock(f *testing.F) {
	f.Add(pcrPacket(0x100, 12345))
	f.Add(pesPacket(0x100, 9000, 5400))
	f.Add(append(pesPacket(0x42, 1, -1), pcrPacket(0x42, 2)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		clk, err := findClock(bytes.NewReader(data))
		if err != nil {
			return
		}
		var p pacer
		for i := 0; i+tsPacket <= len(data); i++ {
			if ts, ok := clk.timestamp(data[i : i+tsPacket]); ok {
				if ts < 0 || ts >= 1<<33 {
					t.Fatalf("timestamp %d out of 33 bits", ts)
				}
				if pos := p.observe(ts); pos < 0 {
					t.Fatalf("negative stream position %v", pos)
				}
			}
		}
	})
}

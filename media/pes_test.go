package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asticode/go-astits"
)

// pesRec is one PES as handed on: its PID, timestamps and payload.
type pesRec struct {
	pid      int
	pts, dts int64
	data     string
}

func (r pesRec) String() string {
	return fmt.Sprintf("pid %d pts %d dts %d, %d bytes", r.pid, r.pts, r.dts, len(r.data))
}

// esPID reports whether the differential tests take pid for PES: astits
// takes the PAT's, the CAT's and the DVB tables' PIDs for PSI, and the
// null PID carries nothing.
func esPID(pid int) bool {
	return pid != 0 && pid != 1 && !(pid >= 0x10 && pid <= 0x14) && !(pid >= 0x1e && pid <= 0x1f) && pid != 0x1fff
}

// layerPES runs the PES layer over every ES PID of ts, packet-aligned.
func layerPES(ts []byte) []pesRec {
	var out []pesRec
	l := pesLayer{emit: func(pid int, pts, dts int64, data []byte) {
		out = append(out, pesRec{pid, pts, dts, string(data)})
	}}
	for off := 0; off+tsPacketSize <= len(ts); off += tsPacketSize {
		p := ts[off : off+tsPacketSize]
		if p[0] != tsSync {
			continue // astits refuses it
		}
		h, ok := parseTSHeader(p)
		if !ok || h.tei || !esPID(h.pid) || !h.hasPayload {
			continue
		}
		l.packet(h, p)
	}
	l.flush()
	return out
}

// astitsPES is what go-astits gives for the same PIDs, kept as the
// segmenter kept it before the PES layer: a PES whose first packet starts
// a payload unit, with a PTS and a payload.
func astitsPES(ts []byte) []pesRec {
	var out []pesRec
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(ts), astits.DemuxerOptPacketSize(tsPacketSize),
		astits.DemuxerOptPacketSkipper(func(p *astits.Packet) bool {
			return p.Header.TransportErrorIndicator || !esPID(int(p.Header.PID))
		}))
	for {
		d, err := dmx.NextData()
		if errors.Is(err, astits.ErrNoMorePackets) {
			return out
		}
		if err != nil || d == nil || d.PES == nil {
			continue
		}
		if d.FirstPacket == nil || !d.FirstPacket.Header.PayloadUnitStartIndicator {
			continue
		}
		oh := d.PES.Header.OptionalHeader
		if oh == nil || oh.PTS == nil || len(d.PES.Data) == 0 {
			continue
		}
		r := pesRec{pid: int(d.PID), pts: oh.PTS.Base, dts: oh.PTS.Base, data: string(d.PES.Data)}
		if oh.DTS != nil {
			r.dts = oh.DTS.Base
		}
		out = append(out, r)
	}
}

func comparePES(t *testing.T, got, want []pesRec) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("PES %d: layer gives %v, astits %v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("layer gives %d PES, astits %d", len(got), len(want))
	}
}

// TestPESMatchesAstits: on TS files made by ffmpeg (the committed inputs
// of the golden test, one with garbage, a PTS wrap, a jump and a lost
// packet, and one with B-frames, where DTS and PTS differ), the PES layer
// hands on the same PES, timestamps and bytes, in the same order as
// go-astits.
func TestPESMatchesAstits(t *testing.T) {
	inputs := map[string][]byte{}
	for _, p := range []string{filepath.Join("..", "examples", "topologies", "sample.ts"), filepath.Join("testdata", "edge.ts")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(p)] = b
	}
	inputs["bframes.ts"] = genTS(t, "bframes.ts", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "7", "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts")
	for name, ts := range inputs {
		t.Run(name, func(t *testing.T) {
			aligned := alignTS(ts)
			got, want := layerPES(aligned), astitsPES(aligned)
			comparePES(t, got, want)
			pids, reordered := map[int]int{}, false
			for _, r := range want {
				pids[r.pid]++
				reordered = reordered || r.pts != r.dts
			}
			if len(pids) != 2 {
				t.Fatalf("PES per PID %v: want video and audio", pids)
			}
			if name == "bframes.ts" && !reordered {
				t.Fatal("no PES with a DTS apart from its PTS")
			}
		})
	}
}

// alignTS keeps the 188-byte packets that are followed by a sync byte (or
// end the input): edge.ts has garbage between packets.
func alignTS(ts []byte) []byte {
	var out []byte
	for i := 0; i+tsPacketSize <= len(ts); {
		if ts[i] == tsSync && (i+tsPacketSize == len(ts) || ts[i+tsPacketSize] == tsSync) {
			out = append(out, ts[i:i+tsPacketSize]...)
			i += tsPacketSize
			continue
		}
		i++
	}
	return out
}

// FuzzPES: on any bytes, taken as 188-byte packets, the PES layer does not
// panic and hands on exactly what go-astits gives for the same PIDs.
func FuzzPES(f *testing.F) {
	// Seeds: the first hundred packets of the ES PIDs of the committed
	// inputs, and a PES split over two packets behind adaptation fields.
	for _, p := range []string{filepath.Join("..", "examples", "topologies", "sample.ts"), filepath.Join("testdata", "edge.ts")} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var seed []byte
		b = alignTS(b)
		for off := 0; off+tsPacketSize <= len(b) && len(seed) < 100*tsPacketSize; off += tsPacketSize {
			if pid := int(b[off+1]&0x1f)<<8 | int(b[off+2]); esPID(pid) {
				seed = append(seed, b[off:off+tsPacketSize]...)
			}
		}
		f.Add(seed)
	}
	two := make([]byte, 2*tsPacketSize)
	copy(two, []byte{0x47, 0x41, 0x00, 0x30, 100, 0x50})
	copy(two[5+100:], []byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10, 0x31, 0, 1, 0, 1, 0x11, 0, 1, 0, 1, 0, 0, 0, 1, 0x65})
	copy(two[tsPacketSize:], []byte{0x47, 0x01, 0x00, 0x31, 0x88})
	f.Add(two)
	f.Fuzz(func(t *testing.T, b []byte) {
		comparePES(t, layerPES(b), astitsPES(b))
		parsePES(b)
	})
}

// BenchmarkPESLayer is the PES layer alone over a 4 Mbit/s 720p H.264 +
// AAC TS's video and audio PIDs.
func BenchmarkPESLayer(b *testing.B) {
	ts := benchTS(b)
	var n int
	l := pesLayer{emit: func(int, int64, int64, []byte) { n++ }}
	b.SetBytes(int64(len(ts)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off+tsPacketSize <= len(ts); off += tsPacketSize {
			p := ts[off : off+tsPacketSize]
			if h, ok := parseTSHeader(p); ok && !h.tei && h.hasPayload && (h.pid == 256 || h.pid == 257) {
				l.packet(h, p)
			}
		}
		l.flush()
	}
	if n == 0 {
		b.Fatal("no PES")
	}
}

// TestSegmenterTrackSetBackAndForth: a source that goes from video and
// audio to audio only and back (PMTs repeated every 100 ms in between,
// which the segmenter does not parse again) gets an init for each track
// set, in order, and the last one is the first one again.
func TestSegmenterTrackSetBackAndForth(t *testing.T) {
	av := genTS(t, "av.ts", avArgs(12)...)
	aonly := genTS(t, "aonly.ts", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "7", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts")
	r := feed(t, SegmenterConfig{}, 9, av, aonly, av)
	var got []string
	for _, in := range r.inits {
		got = append(got, in.Codecs)
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "avc1.") || !strings.HasSuffix(got[0], ",mp4a.40.2") ||
		got[1] != "mp4a.40.2" || r.inits[2].Hash != r.inits[0].Hash {
		t.Fatalf("inits %v, want video and audio, audio only, video and audio", got)
	}
}

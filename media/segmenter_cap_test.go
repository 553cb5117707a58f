package media

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/asticode/go-astits"
)

// keyframelessTS makes an H.264 TS at 25 fps: an IDR, then n non-IDR
// pictures of size bytes each with no random access point among them, then
// a second IDR and a few small pictures.
func keyframelessTS(t *testing.T, n, size int) []byte {
	t.Helper()
	// SPS and PPS of a 160x90 x264 stream.
	sps := []byte{0x67, 0x42, 0xc0, 0x0b, 0xda, 0x0a, 0x37, 0xe4, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x50, 0xaa, 0x80}
	pps := []byte{0x68, 0xce, 0x0f, 0xc8}
	rng := rand.New(rand.NewPCG(5, 6))
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(rng.Uint32()) | 0x80 // no start code inside
	}
	var out bytes.Buffer
	mx := astits.NewMuxer(context.Background(), &out)
	if err := mx.AddElementaryStream(astits.PMTElementaryStream{ElementaryPID: 256, StreamType: astits.StreamTypeH264Video}); err != nil {
		t.Fatal(err)
	}
	mx.SetPCRPID(256)
	sc := []byte{0, 0, 0, 1}
	frame := func(i int, idr bool, body []byte) {
		var au []byte
		if idr {
			au = append(append(append(au, sc...), sps...), append(sc, pps...)...)
			au = append(append(au, sc...), 0x65)
		} else {
			au = append(append(au, sc...), 0x41)
		}
		au = append(au, body...)
		pts := int64(90000 + i*3600)
		_, err := mx.WriteData(&astits.MuxerData{PID: 256,
			AdaptationField: &astits.PacketAdaptationField{RandomAccessIndicator: idr, HasPCR: true, PCR: &astits.ClockReference{Base: pts - 9000}},
			PES: &astits.PESData{Data: au, Header: &astits.PESHeader{StreamID: 0xe0, OptionalHeader: &astits.PESOptionalHeader{
				MarkerBits: 2, PTSDTSIndicator: astits.PTSDTSIndicatorOnlyPTS, PTS: &astits.ClockReference{Base: pts}}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	frame(0, true, payload[:1000])
	for i := 1; i <= n; i++ {
		frame(i, false, payload)
	}
	frame(n+1, true, payload[:1000])
	for i := n + 2; i < n+12; i++ {
		frame(i, false, payload[:500])
	}
	return out.Bytes()
}

// TestSegmenterKeyframelessCap: a high-bitrate source that sends no random
// access point for longer than a segment may hold (here 48 MiB in 2 s)
// never makes a segment past the cap, far below the 64 MiB a segment may
// have to cross the plugin transport; the frames up to the next IDR are
// dropped, and the stream records again from that IDR, every segment
// starting on a sync sample.
func TestSegmenterKeyframelessCap(t *testing.T) {
	const frames, size = 50, 1 << 20
	ts := keyframelessTS(t, frames, size)
	r := feed(t, SegmenterConfig{}, 9, ts)
	if len(r.segs) != 2 {
		t.Fatalf("%d segments, want 2: the one cut at the cap and the one from the second IDR (stats %+v)", len(r.segs), r.stats)
	}
	for i, sg := range r.segs {
		if len(sg.Data) > 32<<20+1<<20 || len(sg.Data) >= 64<<20 {
			t.Errorf("segment %d holds %d bytes", i, len(sg.Data))
		}
		if !parseFrag(t, sg.Data).firstKey {
			t.Errorf("segment %d does not start with a sync sample", i)
		}
	}
	// The first segment holds the IDR and the pictures that fit: 31 of
	// 1 MiB (plus the IDR's kilobyte) make the largest under 32 MiB.
	if got := len(r.segs[0].Data) / size; got != 31 {
		t.Errorf("first segment holds %d MiB, want 31", got)
	}
	// The second starts at the second IDR: frame 51 at 25 fps.
	if d := r.segs[1].Start - r.segs[0].Start; d != (frames+1)*40 {
		t.Errorf("second segment starts %d ms after the first, want %d", d, (frames+1)*40)
	}
}

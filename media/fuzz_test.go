package media

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzSegmenter feeds arbitrary bytes, in chunks sized by the first byte,
// and checks that the segmenter neither panics nor breaks its promises:
// segments follow their init, and starts strictly increase.
func FuzzSegmenter(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x47, 0x40, 0x00, 0x10, 0x00})
	f.Fuzz(fuzzSegmenter)
}

func fuzzSegmenter(t *testing.T, data []byte) {
	chunk := 188
	if len(data) > 0 {
		chunk = 1 + int(data[0])*7
	}
	var lastHash string
	var lastStart int64
	var n int
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewSegmenter(SegmenterConfig{
		ReuseData:      len(data) > 1 && data[1]&1 == 1, // segments built in the same memory
		TargetDuration: time.Millisecond,
		Now:            func() time.Time { return clock },
		OnInit: func(in Init) {
			if in.Hash != InitHash(in.Data) || len(in.Data) == 0 {
				t.Fatalf("init hash %s does not match its data", in.Hash)
			}
			lastHash = in.Hash
		},
		OnSegment: func(sg Segment) {
			if sg.InitHash != lastHash {
				t.Fatalf("segment refers to init %s, last init was %s", sg.InitHash, lastHash)
			}
			if n > 0 && sg.Start <= lastStart {
				t.Fatalf("segment start %d after %d", sg.Start, lastStart)
			}
			if sg.Duration < 0 || len(sg.Data) == 0 {
				t.Fatalf("segment duration %d, %d bytes", sg.Duration, len(sg.Data))
			}
			// A moof, then an mdat holding the rest of the bytes.
			d := sg.Data
			moof := int(binary.BigEndian.Uint32(d))
			if len(d) < 16 || string(d[4:8]) != "moof" || moof+8 > len(d) ||
				string(d[moof+4:moof+8]) != "mdat" || int(binary.BigEndian.Uint32(d[moof:])) != len(d)-moof {
				t.Fatalf("segment of %d bytes is not one moof and one mdat up to its end", len(d))
			}
			lastStart = sg.Start
			n++
		},
	})
	for i := 0; i < 2; i++ { // twice: the second pass is a timestamp jump
		for p := data; len(p) > 0; {
			c := min(chunk, len(p))
			if _, err := s.Write(p[:c]); err != nil {
				t.Fatal(err)
			}
			p = p[c:]
		}
		if i == 0 {
			s.Reanchor()
		}
	}
	s.Flush()
	st := s.Stats()
	if st.Segments != uint64(n) {
		t.Fatalf("stats say %d segments, %d emitted", st.Segments, n)
	}
}

// FuzzAudioFrame parses arbitrary bytes as a frame header of every audio
// codec the segmenter takes, and as an H.264 SEI: no panic, and a frame
// that is taken has a sane length and parameters from which an init
// segment can be built.
func FuzzAudioFrame(f *testing.F) {
	f.Add([]byte{0xff, 0xf1, 0x50, 0x80, 0x2e, 0x7f, 0xfc})                   // ADTS, AAC-LC 48 kHz stereo
	f.Add([]byte{0xff, 0xfd, 0x84, 0x04, 0x00, 0x00})                         // MPEG-1 layer II 64 kbit/s 48 kHz
	f.Add([]byte{0xff, 0xfb, 0x54, 0xc4, 0x00, 0x00})                         // MPEG-1 layer III
	f.Add([]byte{0x0b, 0x77, 0x8a, 0x3c, 0x08, 0x40, 0x43, 0xe1, 0x00})       // AC-3 64 kbit/s 48 kHz
	f.Add([]byte{0x0b, 0x77, 0x00, 0xbf, 0x34, 0x86, 0x00, 0x00, 0x00})       // E-AC-3 independent substream
	f.Add([]byte{0x06, 0x06, 0x01, 0xc4, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80}) // SEI: recovery point
	f.Fuzz(func(t *testing.T, b []byte) {
		hasRecoveryPoint(b)
		for _, c := range []audioCodec{audioAAC, audioMPEG, audioAC3, audioEAC3} {
			fr, ok := parseAudioFrame(c, b)
			if !ok {
				continue
			}
			// A frame must move the parser on (an empty ADTS frame, header
			// only, was always taken).
			if fr.frameLen <= 0 || fr.frameLen < fr.headerLen || fr.headerLen < 0 {
				t.Fatalf("%s: frame of %d bytes with a header of %d", c, fr.frameLen, fr.headerLen)
			}
			if fr.skip {
				continue
			}
			p := fr.p
			if p.codec != c || p.rate <= 0 || p.samples <= 0 || p.channels == 0 {
				t.Fatalf("%s: params %+v", c, p)
			}
			// mp4ff encodes no AudioSpecificConfig for some AAC object types
			// (Main, SSR): such a track was refused before other codecs came.
			if _, err := buildInit(nil, &p); err != nil && c != audioAAC {
				t.Fatalf("%s: params %+v make no init: %v", c, p, err)
			}
		}
	})
}

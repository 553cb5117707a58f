package m4f

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/edgedvr/edge/media"
)

// testInit and testSegments are a small valid stream's contents.
func testInit(seed byte) media.Init {
	data := bytes.Repeat([]byte{'f', 't', 'y', 'p', seed}, 40)
	return media.Init{Hash: media.InitHash(data), Data: data, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720}
}

func testSegment(init media.Init, start int64, size int) media.Segment {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(start), uint64(size)))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return media.Segment{Start: start, Duration: 3000, InitHash: init.Hash, Data: data}
}

// validStream returns a body: init, n segments, a heartbeat, another init
// and a segment on it, and (if end) an end frame.
func validStream(t testing.TB, n, size int, end bool) []byte {
	var b bytes.Buffer
	w := NewWriter(&b)
	in := testInit(1)
	must(t, w.WriteInit(in))
	for i := range n {
		must(t, w.WriteSegment(testSegment(in, 1_700_000_000_000+int64(i)*3000, size)))
	}
	must(t, w.WriteHeartbeat(Heartbeat{Time: 1_700_000_100_000, LiveEdge: 1_700_000_000_000}))
	in2 := testInit(2)
	must(t, w.WriteInit(in2))
	must(t, w.WriteSegment(testSegment(in2, 1_700_000_200_000, size)))
	if end {
		must(t, w.WriteError(""))
	}
	return b.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func readAll(r *Reader) ([]Frame, error) {
	var fs []Frame
	for {
		f, err := r.Next()
		if err != nil {
			return fs, err
		}
		fs = append(fs, f)
	}
}

func TestRoundTrip(t *testing.T) {
	in1, in2 := testInit(1), testInit(2)
	segs := []media.Segment{testSegment(in1, 1000, 0), testSegment(in1, 4000, 1), testSegment(in1, 7000, 100_000), testSegment(in2, 9000, firstChunk+12345)}
	var b bytes.Buffer
	w := NewWriter(&b)
	must(t, w.WriteInit(in1))
	for _, s := range segs[:3] {
		must(t, w.WriteSegment(s))
	}
	must(t, w.WriteHeartbeat(Heartbeat{Time: 12, LiveEdge: 7000}))
	in2NoHash := in2
	in2NoHash.Hash = "" // the writer fills it in
	must(t, w.WriteInit(in2NoHash))
	must(t, w.WriteSegment(segs[3]))
	must(t, w.WriteError("stream stopped"))
	if err := w.WriteHeartbeat(Heartbeat{}); err == nil {
		t.Fatal("write after the end frame succeeded")
	}
	if !bytes.HasPrefix(b.Bytes(), []byte(Magic)) {
		t.Fatal("body does not start with the magic")
	}

	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			fs, err := readAll(NewReader(wrap(bytes.NewReader(b.Bytes())), Limits{}))
			if err != io.EOF {
				t.Fatalf("end: %v, want io.EOF", err)
			}
			want := []byte{TypeInit, TypeSegment, TypeSegment, TypeSegment, TypeHeartbeat, TypeInit, TypeSegment, TypeError}
			if len(fs) != len(want) {
				t.Fatalf("got %d frames, want %d", len(fs), len(want))
			}
			for i, f := range fs {
				if f.Type != want[i] {
					t.Fatalf("frame %d is %q, want %q", i, f.Type, want[i])
				}
			}
			for i, f := range []Frame{fs[0], fs[5]} {
				wantInit := []media.Init{in1, in2}[i]
				if f.Init.Hash != wantInit.Hash || !bytes.Equal(f.Init.Data, wantInit.Data) || f.Init.Codecs != wantInit.Codecs || f.Init.Width != 1280 || f.Init.Height != 720 {
					t.Fatalf("init %d differs: %+v", i, f.Init)
				}
			}
			for i, f := range []Frame{fs[1], fs[2], fs[3], fs[6]} {
				s := f.Segment
				if s.Start != segs[i].Start || s.Duration != segs[i].Duration || s.InitHash != segs[i].InitHash || !bytes.Equal(s.Data, segs[i].Data) {
					t.Fatalf("segment %d differs (start %d, %d bytes)", i, s.Start, len(s.Data))
				}
			}
			if hb := fs[4].Heartbeat; hb.Time != 12 || hb.LiveEdge != 7000 {
				t.Fatalf("heartbeat %+v", hb)
			}
			if fs[7].Err != "stream stopped" {
				t.Fatalf("end reason %q", fs[7].Err)
			}
		})
	}
}

// TestTCP runs the writer on a *net.TCPConn (the writev path).
func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	body := validStream(t, 5, 300_000, true)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Replay the frames through a Writer on the TCP conn.
		r := NewReader(bytes.NewReader(body), Limits{})
		w := NewWriter(c)
		for {
			f, err := r.Next()
			if err != nil {
				return
			}
			switch f.Type {
			case TypeInit:
				err = w.WriteInit(*f.Init)
			case TypeSegment:
				err = w.WriteSegment(*f.Segment)
			case TypeHeartbeat:
				err = w.WriteHeartbeat(*f.Heartbeat)
			case TypeError:
				err = w.WriteError(f.Err)
			}
			if err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	defer c.Close()
	got, err := io.ReadAll(c)
	must(t, err)
	if !bytes.Equal(got, body) {
		t.Fatalf("TCP body differs from the buffered one: %d vs %d bytes", len(got), len(body))
	}
}

// frame builds one raw frame.
func frame(typ byte, meta string, data []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(meta)))
	b = append(b, meta...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func segMeta(start int64, init string, data []byte) string {
	return fmt.Sprintf(`{"start":%d,"duration":3000,"init":%q,"checksum":%q}`, start, init, media.Checksum(data))
}

func initFrame(in media.Init) []byte {
	return frame(TypeInit, fmt.Sprintf(`{"hash":%q,"codecs":"avc1","width":1,"height":2}`, in.Hash), in.Data)
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestMalformed(t *testing.T) {
	in := testInit(1)
	data := []byte("moofmdat")
	seg := frame(TypeSegment, segMeta(1000, in.Hash, data), data)
	magic := []byte(Magic)
	hdr := func(typ byte, metaLen uint16, meta string, dataLen uint32) []byte {
		b := []byte{typ}
		b = binary.BigEndian.AppendUint16(b, metaLen)
		b = append(b, meta...)
		return binary.BigEndian.AppendUint32(b, dataLen)
	}
	tests := []struct {
		name   string
		body   []byte
		limits Limits
		kind   error  // errors.Is target
		msg    string // substring of the message
	}{
		{"empty body", nil, Limits{}, io.ErrUnexpectedEOF, "inside the magic"},
		{"short magic", []byte("M4"), Limits{}, io.ErrUnexpectedEOF, "inside the magic"},
		{"not m4f", []byte("HTTP/1.1 200"), Limits{}, ErrFormat, "not an M4F stream"},
		{"version 2", []byte("M4F2"), Limits{}, ErrFormat, `version "2"`},
		{"unknown type", join(magic, frame('X', "{}", nil)), Limits{}, ErrFormat, "unknown frame type 'X'"},
		{"meta over cap", join(magic, hdr(TypeHeartbeat, MaxMeta+1, "", 0)), Limits{}, ErrTooLarge, "heartbeat meta of 4097 bytes exceeds the 4096-byte cap"},
		{"segment over default cap", join(magic, initFrame(in), hdr(TypeSegment, 2, "{}", 70_000_000)), Limits{}, ErrTooLarge, "m4f: segment of 70000000 bytes exceeds the 67108864-byte cap"},
		{"segment over set cap", join(magic, initFrame(in), seg), Limits{MaxSegment: 4}, ErrTooLarge, "segment of 8 bytes exceeds the 4-byte cap"},
		{"init over cap", join(magic, initFrame(in)), Limits{MaxInit: 10}, ErrTooLarge, "init of 200 bytes exceeds the 10-byte cap"},
		{"heartbeat with data", join(magic, frame(TypeHeartbeat, `{"time":1,"live_edge":0}`, []byte("x"))), Limits{}, ErrFormat, "must carry none"},
		{"bad json", join(magic, frame(TypeHeartbeat, `{"time":`, nil)), Limits{}, ErrFormat, "bad heartbeat meta"},
		{"json wrong type", join(magic, frame(TypeHeartbeat, `{"time":"x","live_edge":0}`, nil)), Limits{}, ErrFormat, "bad heartbeat meta"},
		{"json trailing", join(magic, frame(TypeHeartbeat, `{"time":1,"live_edge":0} 5`, nil)), Limits{}, ErrFormat, "data after the JSON object"},
		{"json not object", join(magic, frame(TypeError, `[]`, nil)), Limits{}, ErrFormat, "bad error frame meta"},
		{"heartbeat lacks time", join(magic, frame(TypeHeartbeat, `{"live_edge":0}`, nil)), Limits{}, ErrFormat, "lacks time"},
		{"init without hash", join(magic, frame(TypeInit, `{"codecs":"x"}`, in.Data)), Limits{}, ErrFormat, "no hash"},
		{"init negative size", join(magic, frame(TypeInit, fmt.Sprintf(`{"hash":%q,"width":-1}`, in.Hash), in.Data)), Limits{}, ErrFormat, "negative size"},
		{"init hash mismatch", join(magic, frame(TypeInit, `{"hash":"0011223344556677"}`, in.Data)), Limits{}, ErrChecksum, "does not match its meta hash"},
		{"segment before init", join(magic, seg), Limits{}, ErrFormat, "comes before any init"},
		{"segment on other init", join(magic, initFrame(in), frame(TypeSegment, segMeta(1000, "abcdef", data), data)), Limits{}, ErrFormat, `refers to init "abcdef"`},
		{"segment lacks start", join(magic, initFrame(in), frame(TypeSegment, `{"duration":1,"init":"x","checksum":"00000000"}`, nil)), Limits{}, ErrFormat, "lacks start"},
		{"segment negative duration", join(magic, initFrame(in), frame(TypeSegment, fmt.Sprintf(`{"start":1,"duration":-1,"init":%q,"checksum":"0"}`, in.Hash), nil)), Limits{}, ErrFormat, "negative duration"},
		{"segment no checksum", join(magic, initFrame(in), frame(TypeSegment, fmt.Sprintf(`{"start":1,"duration":1,"init":%q}`, in.Hash), nil)), Limits{}, ErrFormat, "no checksum"},
		{"segment no init", join(magic, initFrame(in), frame(TypeSegment, `{"start":1,"duration":1,"checksum":"0"}`, nil)), Limits{}, ErrFormat, "no init hash"},
		{"segment checksum mismatch", join(magic, initFrame(in), frame(TypeSegment, fmt.Sprintf(`{"start":1,"duration":1,"init":%q,"checksum":"deadbeef"}`, in.Hash), data)), Limits{}, ErrChecksum, `its meta says "deadbeef"`},
		{"segment start repeats", join(magic, initFrame(in), seg, seg), Limits{}, ErrFormat, "does not start after the previous one at 1000"},
		{"cut in header", join(magic, initFrame(in), seg[:2]), Limits{}, io.ErrUnexpectedEOF, "inside a frame header"},
		{"cut in meta", join(magic, initFrame(in), seg[:10]), Limits{}, io.ErrUnexpectedEOF, "inside segment meta"},
		{"cut in data", join(magic, initFrame(in), seg[:len(seg)-1]), Limits{}, io.ErrUnexpectedEOF, "inside segment data"},
		{"cut in big data", join(magic, initFrame(in), hdr(TypeSegment, uint16(len(segMeta(1, in.Hash, nil))), segMeta(1, in.Hash, nil), 60<<20), make([]byte, 3<<20)), Limits{}, io.ErrUnexpectedEOF, "inside segment data"},
		{"cut in init data", join(magic, initFrame(in)[:len(initFrame(in))-10]), Limits{}, io.ErrUnexpectedEOF, "inside init data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.body), tc.limits)
			_, err := readAll(r)
			if err == nil || err == io.EOF {
				t.Fatalf("got %v, want an error", err)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q does not match %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "m4f: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not a one-line m4f: error", err)
			}
			if _, again := r.Next(); again != err {
				t.Errorf("Next after an error returned %v, want the same error", again)
			}
		})
	}
}

func TestCleanEnds(t *testing.T) {
	// A body that stops at a frame boundary ends with io.EOF.
	body := validStream(t, 2, 10, false)
	fs, err := readAll(NewReader(bytes.NewReader(body), Limits{}))
	if err != io.EOF || len(fs) != 6 {
		t.Fatalf("got %d frames and %v, want 6 and io.EOF", len(fs), err)
	}
	// Magic only.
	if _, err := NewReader(strings.NewReader(Magic), Limits{}).Next(); err != io.EOF {
		t.Fatalf("magic only: %v, want io.EOF", err)
	}
	// Nothing is read after an end frame.
	body = append(validStream(t, 1, 10, true), "garbage"...)
	if _, err := readAll(NewReader(bytes.NewReader(body), Limits{})); err != io.EOF {
		t.Fatalf("after end frame: %v, want io.EOF", err)
	}
	// Unknown meta fields are ignored (v1 may grow optional fields).
	in := testInit(1)
	body = join([]byte(Magic), initFrame(in), frame(TypeHeartbeat, `{"time":1,"live_edge":2,"new":[1,2]}`, nil))
	fs, err = readAll(NewReader(bytes.NewReader(body), Limits{}))
	if err != io.EOF || len(fs) != 2 || fs[1].Heartbeat.LiveEdge != 2 {
		t.Fatalf("unknown meta field: %d frames, %v", len(fs), err)
	}
}

// TestHugeAnnouncedFrame checks that a peer announcing a 60 MiB segment and
// sending 100 bytes of it does not make the reader allocate 60 MiB.
func TestHugeAnnouncedFrame(t *testing.T) {
	in := testInit(1)
	meta := segMeta(1, in.Hash, nil)
	b := join([]byte(Magic), initFrame(in), []byte{TypeSegment}, binary.BigEndian.AppendUint16(nil, uint16(len(meta))), []byte(meta), binary.BigEndian.AppendUint32(nil, 60<<20), make([]byte, 100))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := readAll(NewReader(bytes.NewReader(b), Limits{}))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*firstChunk {
		t.Fatalf("allocated %d bytes for a frame that never arrived (limit %d)", got, 2*firstChunk)
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	in := testInit(1)
	tests := []struct {
		name string
		err  error
		kind error
		msg  string
	}{
		{"big segment", w.WriteSegment(media.Segment{InitHash: in.Hash, Data: make([]byte, DefaultMaxSegment+1)}), ErrTooLarge, "segment of 67108865 bytes exceeds the 67108864-byte cap"},
		{"big init", w.WriteInit(media.Init{Data: make([]byte, DefaultMaxInit+1)}), ErrTooLarge, "init of 1048577 bytes exceeds"},
		{"big meta", w.WriteInit(media.Init{Data: in.Data, Codecs: strings.Repeat("x", MaxMeta)}), ErrTooLarge, "meta of"},
		{"no init hash", w.WriteSegment(media.Segment{Start: 5}), nil, "segment at 5 has no init hash"},
	}
	for _, tc := range tests {
		if tc.err == nil || (tc.kind != nil && !errors.Is(tc.err, tc.kind)) || !strings.Contains(tc.err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %v containing %q", tc.name, tc.err, tc.kind, tc.msg)
		}
	}
	if err := NewWriter(failWriter{}).WriteInit(in); err == nil || !strings.Contains(err.Error(), "m4f: write I frame: disk on fire") {
		t.Errorf("failing writer: got %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk on fire") }

// A long error reason is cut to fit the meta cap.
func TestLongErrorReason(t *testing.T) {
	var b bytes.Buffer
	must(t, NewWriter(&b).WriteError(strings.Repeat("é<\n", MaxMeta)))
	fs, err := readAll(NewReader(&b, Limits{}))
	if err != io.EOF || len(fs) != 1 || fs[0].Type != TypeError || fs[0].Err == "" {
		t.Fatalf("got %d frames, %v", len(fs), err)
	}
}

// recorder keeps every slice the writer hands it, uncopied.
type recorder struct{ writes [][]byte }

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, p)
	return len(p), nil
}

// The writer sends a frame as a header write and the caller's data slice
// itself (no copy), and the magic only once.
func TestWriterDoesNotCopy(t *testing.T) {
	var rec recorder
	w := NewWriter(&rec)
	must(t, w.WriteMagic())
	must(t, w.WriteMagic())
	in := testInit(1)
	seg := testSegment(in, 1, 1000)
	must(t, w.WriteInit(in))
	n := len(rec.writes)
	must(t, w.WriteSegment(seg))
	if len(rec.writes) != n+2 {
		t.Fatalf("segment frame took %d writes, want 2", len(rec.writes)-n)
	}
	if d := rec.writes[n+1]; &d[0] != &seg.Data[0] || len(d) != len(seg.Data) {
		t.Fatal("segment data was copied")
	}
	if string(rec.writes[0]) != Magic || bytes.Contains(bytes.Join(rec.writes[1:], nil), []byte(Magic)) {
		t.Fatal("magic not written exactly once, first")
	}
}

// TestSegmentNumbers checks that live numbers travel with a segment and
// that a half-numbered or negative pair is refused.
func TestSegmentNumbers(t *testing.T) {
	in := testInit(1)
	data := []byte("moofmdat")
	var buf bytes.Buffer
	w := NewWriter(&buf)
	must(t, w.WriteInit(in))
	must(t, w.WriteSegment(media.Segment{Start: 1000, Duration: 2000, InitHash: in.Hash, Data: data, Seq: 29_000_000, DiscSeq: 8000}))
	must(t, w.WriteSegment(media.Segment{Start: 3000, Duration: 2000, InitHash: in.Hash, Data: data}))
	r := NewReader(&buf, Limits{})
	var got []media.Segment
	for {
		f, err := r.Next()
		if err != nil {
			break
		}
		if f.Segment != nil {
			got = append(got, *f.Segment)
		}
	}
	if len(got) != 2 || got[0].Seq != 29_000_000 || got[0].DiscSeq != 8000 || got[1].Seq != 0 || got[1].DiscSeq != 0 {
		t.Fatalf("segments read back: %+v", got)
	}
	for _, meta := range []string{numberedMeta(1, in.Hash, data, 5, 0), numberedMeta(1, in.Hash, data, -5, 1)} {
		r := NewReader(bytes.NewReader(join([]byte(Magic), initFrame(in), frame(TypeSegment, meta, data))), Limits{})
		var err error
		for err == nil {
			_, err = r.Next()
		}
		if !strings.Contains(err.Error(), "sequence numbers") {
			t.Errorf("meta %s: error %v, want one about sequence numbers", meta, err)
		}
	}
}

// TestOpenWindow checks that an open-ended window (to = MaxInt64, as the
// host asks for "everything from from on") makes a query the server accepts.
func TestOpenWindow(t *testing.T) {
	for _, p := range []string{SegmentsPath("cam", 5, math.MaxInt64), RangesPath("cam", -1, math.MaxInt64)} {
		_, q, _ := strings.Cut(p, "?")
		vals, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		from, to, err := ParseWindow(vals.Get)
		if err != nil || to != MaxTime || from > 5 {
			t.Errorf("%s: %d %d %v", p, from, to, err)
		}
	}
}

package m4f

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgedvr/edge/media"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzLimits keep the fuzzer's memory small.
var fuzzLimits = Limits{MaxSegment: 1 << 20, MaxInit: 64 << 10}

// FuzzReader feeds arbitrary bodies to a Reader: it must never panic, and
// what it decodes must hold its promises and survive a re-encode byte for byte.
func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := NewReader(bytes.NewReader(body), fuzzLimits)
		var out bytes.Buffer
		w := NewWriter(&out)
		var frames []Frame
		for {
			fr, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrChecksum) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("error of no known kind: %v", err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("multi-line error %q", err)
				}
				break
			}
			frames = append(frames, fr)
			switch fr.Type {
			case TypeInit:
				if media.InitHash(fr.Init.Data) != fr.Init.Hash {
					t.Fatal("init hash does not match")
				}
				must(t, w.WriteInit(*fr.Init))
			case TypeSegment:
				if media.Checksum(fr.Segment.Data) == "" || len(fr.Segment.Data) > fuzzLimits.MaxSegment {
					t.Fatal("bad segment")
				}
				must(t, w.WriteSegment(*fr.Segment))
			case TypeHeartbeat:
				must(t, w.WriteHeartbeat(*fr.Heartbeat))
			case TypeError:
				must(t, w.WriteError(fr.Err))
			default:
				t.Fatalf("frame of type %q", fr.Type)
			}
		}
		if len(frames) == 0 {
			return
		}
		// Re-encoded frames decode to the same frames.
		again, err := readAll(NewReader(&out, fuzzLimits))
		if err != io.EOF || len(again) != len(frames) {
			t.Fatalf("re-encoded: %d frames and %v, want %d frames", len(again), err, len(frames))
		}
		for i := range frames {
			a, b := frames[i], again[i]
			if a.Type != b.Type || a.Err != b.Err ||
				(a.Init != nil && (a.Init.Hash != b.Init.Hash || !bytes.Equal(a.Init.Data, b.Init.Data) || a.Init.Codecs != b.Init.Codecs)) ||
				(a.Segment != nil && (a.Segment.Start != b.Segment.Start || a.Segment.Duration != b.Segment.Duration || !bytes.Equal(a.Segment.Data, b.Segment.Data))) ||
				(a.Heartbeat != nil && *a.Heartbeat != *b.Heartbeat) {
				t.Fatalf("frame %d differs after a re-encode", i)
			}
		}
	})
}

func readerSeeds(t testing.TB) [][]byte {
	full := validStream(t, 3, 300, true)
	noEnd := validStream(t, 1, 40, false)
	in := testInit(1)
	data := []byte("moofmdat")
	garbled := bytes.Clone(full)
	garbled[len(Magic)+40] ^= 0xff
	seeds := [][]byte{
		full,
		noEnd,
		full[:len(full)/2],
		full[:len(Magic)+3],
		[]byte(Magic),
		[]byte("M4F2"),
		garbled,
		join([]byte(Magic), initFrame(in), frame(TypeSegment, segMeta(1, in.Hash, data), data), frame(TypeHeartbeat, `{"time":5,"live_edge":1}`, nil), frame(TypeError, `{"error":"bye"}`, nil)),
		join([]byte(Magic), initFrame(in), frame(TypeSegment, segMeta(1, in.Hash, data), []byte("moofmdaT"))),
		join([]byte(Magic), frame('Z', `{}`, nil)),
		join([]byte(Magic), frame(TypeHeartbeat, `{"time":1e3,"live_edge":null}`, nil)),
		// Numbered segments (seq, disc_seq), a half-numbered one, a negative number.
		join([]byte(Magic), initFrame(in), frame(TypeSegment, numberedMeta(1, in.Hash, data, 29000000, 8000), data),
			frame(TypeSegment, numberedMeta(2, in.Hash, data, 29000001, 8000), data)),
		join([]byte(Magic), initFrame(in), frame(TypeSegment, numberedMeta(1, in.Hash, data, 5, 0), data)),
		join([]byte(Magic), initFrame(in), frame(TypeSegment, numberedMeta(1, in.Hash, data, -5, 1), data)),
	}
	return seeds
}

// numberedMeta is segment meta with live numbers.
func numberedMeta(start int64, init string, data []byte, seq, discSeq int64) string {
	return fmt.Sprintf(`{"start":%d,"duration":2000,"init":%q,"checksum":%q,"seq":%d,"disc_seq":%d}`,
		start, init, media.Checksum(data), seq, discSeq)
}

// FuzzParsePath checks that ParsePath and ParseWindow never panic, and that
// what ParsePath accepts rebuilds into a path that parses the same.
func FuzzParsePath(f *testing.F) {
	for _, s := range pathSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		path, query, _ := strings.Cut(s, "?")
		if q, err := url.ParseQuery(query); err == nil {
			if from, to, err := ParseWindow(q.Get); err == nil && (from > to || from < 0) {
				t.Fatalf("ParseWindow(%q) = %d, %d", query, from, to)
			}
		}
		r, err := ParsePath(path, nil)
		if err != nil {
			return
		}
		if strings.Contains(r.Stream, "/") || (r.Endpoint != EndpointStreams && r.Stream == "") {
			t.Fatalf("ParsePath(%q) gave stream %q", path, r.Stream)
		}
		var rebuilt string
		switch r.Endpoint {
		case EndpointStreams:
			rebuilt = StreamsPath
		case EndpointLive:
			rebuilt = LivePath(r.Stream)
		case EndpointRanges:
			rebuilt, _, _ = strings.Cut(RangesPath(r.Stream, 0, 1), "?")
		case EndpointSegments:
			rebuilt, _, _ = strings.Cut(SegmentsPath(r.Stream, 0, 1), "?")
		case EndpointSegment:
			rebuilt = SegmentPath(r.Stream, r.Start)
		case EndpointInit:
			rebuilt = InitPath(r.Stream, r.Hash)
		default:
			t.Fatalf("ParsePath(%q) gave endpoint %v", path, r.Endpoint)
		}
		if again, err := ParsePath(rebuilt, nil); err != nil || again != r {
			t.Fatalf("rebuilt %q parses to %+v, %v; want %+v", rebuilt, again, err, r)
		}
	})
}

func pathSeeds() []string {
	return []string{
		StreamsPath, LivePath("cam"), RangesPath("cam", 1, 2), SegmentsPath("cam", 5, 5),
		SegmentPath("cam", 1_700_000_000_000), InitPath("cam", "0123456789abcdef"),
		"/m4f/v1/segment/a/007", "/m4f/v1/live/../x", "/m4f/v1/init/a/XYZ", "/m4f/v2/live/a",
		"/m4f/v1/ranges/a?from=9&to=1", "/m4f/v1/segments/a?from=&to=1&from=2",
	}
}

// TestWriteCorpus rewrites the committed seed corpora with -update-corpus.
func TestWriteCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite testdata/fuzz seeds")
	}
	write := func(target string, i int, value string) {
		dir := filepath.Join("testdata", "fuzz", target)
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte("go test fuzz v1\n"+value+"\n"), 0o644))
	}
	for i, s := range readerSeeds(t) {
		write("FuzzReader", i, fmt.Sprintf("[]byte(%q)", s))
	}
	for i, s := range pathSeeds() {
		write("FuzzParsePath", i, fmt.Sprintf("string(%q)", s))
	}
}

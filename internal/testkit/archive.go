package testkit

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/sdk"
)

// Archive opens the on-disk archive of stream under root, the way a node
// does at start, and returns its segments and ranges. The node that writes
// it must not be running.
func Archive(t testing.TB, root, stream string) ([]sdk.SegmentInfo, []sdk.Range, *dvrstore.Store) {
	t.Helper()
	st := dvrstore.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	// A killed node's plugin processes die a moment after it: wait for the
	// store's lock to be free.
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = st.OpenStream(ctx, sdk.StreamConfig{Stream: stream, Root: root})
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("open archive %s/%s: %v", root, stream, err)
	}
	segs, err := st.Segments(ctx, stream, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := st.Ranges(ctx, stream, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	return segs, ranges, st
}

// Concat writes each init followed by the segments that use it into one
// file per init, in order, and returns the paths (one per run of segments
// with the same init).
func Concat(t testing.TB, st sdk.Store, stream string, segs []sdk.SegmentInfo) []string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var paths []string
	var f *os.File
	cur := ""
	for _, s := range segs {
		if s.InitHash != cur || f == nil {
			if f != nil {
				f.Close()
			}
			init, err := st.ReadInit(ctx, stream, s.InitHash)
			if err != nil {
				t.Fatalf("read init %s: %v", s.InitHash, err)
			}
			p := filepath.Join(dir, "part"+string(rune('a'+len(paths)))+".mp4")
			var err2 error
			f, err2 = os.Create(p)
			if err2 != nil {
				t.Fatal(err2)
			}
			f.Write(init.Data)
			paths = append(paths, p)
			cur = s.InitHash
		}
		data, err := st.ReadSegment(ctx, stream, s.Start)
		if err != nil {
			t.Fatalf("read segment %d: %v", s.Start, err)
		}
		f.Write(data)
	}
	if f != nil {
		f.Close()
	}
	return paths
}

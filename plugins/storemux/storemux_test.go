package storemux

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/plugins/s3store"
	"github.com/edgedvr/edge/sdk"
)

// TestRoutesByRoot: one store process, a stream on disk and a stream in
// S3; each stream's bytes land where its root says, and nowhere else.
func TestRoutesByRoot(t *testing.T) {
	srv := testkit.StartS3(t, "edge-mux")
	env := srv.Env()
	s3 := s3store.New(nil)
	s3.Env = func(k string) string { return env[k] }
	m := New(dvrstore.New(nil), s3)
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	dir := t.TempDir()
	streams := map[string]string{"ondisk": dir, "ins3": srv.Root("mux")}
	data := []byte("init segment bytes")
	in := media.Init{Hash: media.InitHash(data), Data: data}
	for name, root := range streams {
		if err := m.OpenStream(ctx, sdk.StreamConfig{Stream: name, Root: root}); err != nil {
			t.Fatal(err)
		}
		if err := m.WriteInit(ctx, name, in); err != nil {
			t.Fatal(err)
		}
		seg := media.Segment{Start: 1710046800000, Duration: 2000, InitHash: in.Hash, Data: []byte("segment of " + name)}
		if _, err := m.WriteSegment(ctx, name, seg); err != nil {
			t.Fatal(err)
		}
		b, err := m.ReadSegment(ctx, name, seg.Start)
		if err != nil || string(b) != "segment of "+name {
			t.Fatalf("%s: read %q, %v", name, b, err)
		}
	}
	segs, _ := m.Segments(ctx, "ondisk", 0, 1<<62)
	if len(segs) != 1 || segs[0].Path == "" || !filepath.IsAbs(segs[0].Path) {
		t.Fatalf("disk stream: %+v, want one segment with a Path", segs)
	}
	if _, err := os.Stat(filepath.Join(dir, "ins3")); !os.IsNotExist(err) {
		t.Fatalf("the S3 stream left something on disk: %v", err)
	}
	segs, _ = m.Segments(ctx, "ins3", 0, 1<<62)
	if len(segs) != 1 || segs[0].Path != "" {
		t.Fatalf("S3 stream: %+v, want one segment without a Path", segs)
	}
	n := 0
	for o := range srv.Client().ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: "mux/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no objects in the bucket for the S3 stream")
	}
	names, _ := m.Streams(ctx)
	if len(names) != 2 || names[0] != "ins3" || names[1] != "ondisk" {
		t.Fatalf("Streams = %v", names)
	}
	if _, err := m.Ranges(ctx, "unknown", 0, 1); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("unknown stream: %v", err)
	}
}

// TestDeleteSegmentsByStore: the disk store's DeleteSegments is reached
// through the router (cross-replication replaces seams with it), on disk
// and in S3; through a store that lacks it, it answers ErrUnsupported.
func TestDeleteSegmentsByStore(t *testing.T) {
	srv := testkit.StartS3(t, "edge-mux-del")
	env := srv.Env()
	s3 := s3store.New(nil)
	s3.Env = func(k string) string { return env[k] }
	m := New(dvrstore.New(nil), s3)
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	data := []byte("init segment bytes")
	in := media.Init{Hash: media.InitHash(data), Data: data}
	for name, root := range map[string]string{"ondisk": t.TempDir(), "ins3": srv.Root("del")} {
		if err := m.OpenStream(ctx, sdk.StreamConfig{Stream: name, Root: root}); err != nil {
			t.Fatal(err)
		}
		if err := m.WriteInit(ctx, name, in); err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < 3; i++ {
			seg := media.Segment{Start: 1710046800000 + i*2000, Duration: 2000, InitHash: in.Hash, Data: []byte("segment")}
			if _, err := m.WriteSegment(ctx, name, seg); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := m.DeleteSegments(ctx, "ondisk", 1710046802000, 1710046804000)
	if err != nil || n != 1 {
		t.Fatalf("DeleteSegments on disk: %d, %v; want 1 deleted", n, err)
	}
	if segs, _ := m.Segments(ctx, "ondisk", 0, 1<<62); len(segs) != 2 {
		t.Fatalf("after delete: %d segments on disk, want 2", len(segs))
	}
	if n, err := m.DeleteSegments(ctx, "ins3", 1710046800000, 1710046802000); err != nil || n != 1 {
		t.Fatalf("DeleteSegments in S3: %d, %v; want 1 deleted", n, err)
	}
	if segs, _ := m.Segments(ctx, "ins3", 0, 1<<62); len(segs) != 2 || segs[0].Start != 1710046802000 {
		t.Fatalf("after delete: %+v in S3, want the last 2", segs)
	}

	// A store without the call (a third-party one) answers ErrUnsupported.
	s3b := s3store.New(nil)
	s3b.Env = s3.Env
	plain := New(dvrstore.New(nil), noDelete{s3b})
	t.Cleanup(func() { plain.Close() })
	if err := plain.OpenStream(ctx, sdk.StreamConfig{Stream: "ins3", Root: srv.Root("del")}); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.DeleteSegments(ctx, "ins3", 0, 1<<62); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("DeleteSegments through a store without it: %v, want ErrUnsupported", err)
	}
}

// noDelete hides a store's optional calls, as a store that lacks them.
type noDelete struct{ sdk.Store }

// TestErrorClassesPassThrough: the router hands the disk store's refusal
// on unchanged, so the host still sees it as permanent.
func TestErrorClassesPassThrough(t *testing.T) {
	m := New(dvrstore.New(nil), s3store.New(nil))
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	if err := m.OpenStream(ctx, sdk.StreamConfig{Stream: "cam", Root: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	h := media.InitHash([]byte("init"))
	if _, err := m.WriteSegment(ctx, "cam", media.Segment{Start: 1710046800000, Duration: 2000, InitHash: h, Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	_, err := m.WriteSegment(ctx, "cam", media.Segment{Start: 1710046801000, Duration: 2000, InitHash: h, Data: []byte("b")})
	if !errors.Is(err, sdk.ErrRefused) || !sdk.IsPermanent(err) {
		t.Fatalf("overlapping write through the router: %v, want sdk.ErrRefused", err)
	}
	if _, err := m.WriteSegment(ctx, "other", media.Segment{Start: 1710046800000, Duration: 2000, InitHash: h, Data: []byte("a")}); sdk.IsPermanent(err) || !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("write to a stream not open: %v, want a temporary ErrNotFound", err)
	}
}

package chain

import (
	"context"
	"errors"
	"testing"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// checkedStore is a fakeStore as a CheckedRemote: its segment reads return
// the segment's description with the checksum of the bytes sent, as the
// M4F client does after checking the X-Edge-Checksum header.
type checkedStore struct{ *fakeStore }

func (c checkedStore) CheckedSegment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, sdk.SegmentInfo, error) {
	b, err := c.Segment(ctx, stream, start, via, hops)
	if err != nil {
		return nil, sdk.SegmentInfo{}, err
	}
	l := c.list(start, start+1)
	if len(l) == 0 {
		return nil, sdk.SegmentInfo{}, sdk.ErrNotFound
	}
	info := l[0]
	info.Checksum = media.Checksum(b)
	return b, info, nil
}

// A segment read with no listing before it goes to the disk cache with the
// description its source sent: no listing is asked for.
func TestCheckedSegmentNoListing(t *testing.T) {
	ctx := testCtx(t)
	remote := newStore("r").add(0, 5, 0)
	disk := openDisk(t, cacheCfg())
	arch := newArchive(t, Config{Self: "edge", Disk: disk, Sources: []Source{{Name: "r", Remote: checkedStore{remote}}}})
	b, err := arch.ReadSegment(ctx, at(2))
	if err != nil || string(b) != string(payload("r", at(2))) {
		t.Fatalf("read: %v", err)
	}
	disk.Wait()
	info, ok := disk.Get("cam", at(2))
	want := remote.list(at(2), at(2)+1)[0]
	if !ok || info.Duration != want.Duration || info.InitHash != want.InitHash || info.Checksum != want.Checksum {
		t.Fatalf("disk cache has %+v %v, want %+v", info, ok, want)
	}
	if n := remote.nSegments.Load(); n != 0 {
		t.Fatalf("%d listings asked, want 0", n)
	}
}

// Bytes whose checked checksum is not the listing's (the segment changed
// upstream since it was listed) are refused.
func TestCheckedSegmentMismatch(t *testing.T) {
	ctx := testCtx(t)
	remote := newStore("r").add(0, 5, 0)
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: checkedStore{remote}}}})
	if _, err := arch.Segments(ctx, at(0), at(5)); err != nil {
		t.Fatal(err)
	}
	remote.mu.Lock()
	remote.data[at(1)] = []byte("rewritten")
	remote.segs[1].Checksum = media.Checksum(remote.data[at(1)])
	remote.mu.Unlock()
	if b, err := arch.ReadSegment(ctx, at(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("read of a changed segment: %q %v, want unavailable", b, err)
	}
}

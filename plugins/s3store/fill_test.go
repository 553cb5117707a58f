package s3store

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// starts lists the starts of a stream's segments, and checks each one's
// bytes against what writeSeg stored.
func storedStarts(t *testing.T, s *Store, name string) []int64 {
	t.Helper()
	segs, err := s.Segments(ctx, name, 0, t0+100*hourMs)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, info := range segs {
		b, err := s.ReadSegment(ctx, name, info.Start)
		if err != nil || !bytes.Equal(b, segData(info.Start, 200+int(info.Start%997))) {
			t.Fatalf("segment %d: %v, or not the bytes written", info.Start, err)
		}
		out = append(out, info.Start)
	}
	return out
}

// TestFillHolesNewestFirst: replication writes the newest segments first
// and then the older ones, into the holes before them; a segment that
// overlaps a stored one, in its hour or across an hour boundary, is
// refused for good. The summary a reopened store reads lists them all.
func TestFillHolesNewestFirst(t *testing.T) {
	srv := testkit.StartS3(t, "edge-fill")
	s, _ := newStore(t, srv)
	root := srv.Root("f")
	open(t, s, root, "cam", 0, 0)
	in := testInit(1)
	// 10 s segments over three hours, boundary ones included: 05:59:30 to
	// 06:00:30, then 07:00:00 to 07:00:20.
	var want []int64
	for st := t0 + hourMs - 30000; st < t0+hourMs+30000; st += 10000 {
		want = append(want, st)
	}
	want = append(want, t0+2*hourMs, t0+2*hourMs+10000)
	for _, st := range slices.Backward(want) {
		writeSeg(t, s, "cam", st, 10000, in.Hash)
	}
	// One more hole at 05:10, before everything.
	writeSeg(t, s, "cam", t0+600000, 10000, in.Hash)
	want = append([]int64{t0 + 600000}, want...)
	if got := storedStarts(t, s, "cam"); !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	for _, bad := range []struct{ start, dur int64 }{
		{t0 + hourMs - 35000, 10000},        // reaches into 05:59:30
		{t0 + hourMs - 5000, 10000},         // 05:59:55 across the hour, into 06:00:00
		{t0 + 2*hourMs - 1000, 2000},        // into 07:00:00 of the next hour
		{t0 + 600000 + 5000, 2000},          // inside 05:10:00
		{t0 + hourMs + 10000, 10000},        // the same as a stored one
		{t0 + 2*hourMs - hourMs/2, 3600000}, // an hour long, over 07:00
	} {
		_, err := s.WriteSegment(ctx, "cam", media.Segment{Start: bad.start, Duration: bad.dur, InitHash: in.Hash, Data: []byte("x")})
		if !sdk.IsPermanent(err) {
			t.Fatalf("overlapping segment [%d, +%d): %v, want refused for good", bad.start, bad.dur, err)
		}
	}
	wantRanges := fmt.Sprint([]sdk.Range{{From: t0 + 600000, To: t0 + 610000}, {From: t0 + hourMs - 30000, To: t0 + hourMs + 30000}, {From: t0 + 2*hourMs, To: t0 + 2*hourMs + 20000}})
	if got, err := s.Ranges(ctx, "cam", 0, t0+10*hourMs); err != nil || fmt.Sprint(got) != wantRanges {
		t.Fatalf("ranges %v, %v; want %s", got, err, wantRanges)
	}
	s.Close()
	s2, _ := newStore(t, srv)
	open(t, s2, root, "cam", 0, 0)
	if got := storedStarts(t, s2, "cam"); !slices.Equal(got, want) {
		t.Fatalf("after reopen: segments %v, want %v", got, want)
	}
	// The whole hours of the query come from the summary alone.
	if got, err := s2.Ranges(ctx, "cam", 0, t0+10*hourMs); err != nil || fmt.Sprint(got) != wantRanges {
		t.Fatalf("after reopen: ranges %v, %v; want %s", got, err, wantRanges)
	}
	// Recording appends after the newest segment as before.
	writeSeg(t, s2, "cam", t0+2*hourMs+20000, 10000, in.Hash)
}

// TestDeleteSegments: the seams of cross-replication. Deleting a whole
// middle hour, part of another and the whole newest hour leaves exactly
// the rest listed and stored, removes the objects, and recording then
// appends to the hour before without losing its segments.
func TestDeleteSegments(t *testing.T) {
	srv := testkit.StartS3(t, "edge-delete")
	s, _ := newStore(t, srv)
	root := srv.Root("d")
	open(t, s, root, "cam", 0, 0)
	in := testInit(1)
	var all []int64
	for h := int64(0); h < 4; h++ {
		for k := int64(0); k < 3; k++ {
			st := t0 + h*hourMs + k*600000
			writeSeg(t, s, "cam", st, 600000, in.Hash)
			all = append(all, st)
		}
	}
	// Segments 1..5 (hour 0's last two, hour 1 whole), then hour 3 whole.
	n, err := s.DeleteSegments(ctx, "cam", all[1], all[6])
	if err != nil || n != 5 {
		t.Fatalf("DeleteSegments: %d, %v; want 5", n, err)
	}
	if n, err = s.DeleteSegments(ctx, "cam", all[9], t0+10*hourMs); err != nil || n != 3 {
		t.Fatalf("DeleteSegments of the newest hour: %d, %v; want 3", n, err)
	}
	want := []int64{all[0], all[6], all[7], all[8]}
	if got := storedStarts(t, s, "cam"); !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	if keys := listKeys(t, srv, "d/cam/seg/"); len(keys) != len(want) {
		t.Fatalf("%d segment objects left, want %d: %v", len(keys), len(want), keys)
	}
	if keys := listKeys(t, srv, "d/cam/index/"); len(keys) != 2 {
		t.Fatalf("hour indexes left: %v, want those of hours 0 and 2", keys)
	}
	// The newest hour is now hour 2: a segment after it appends there.
	writeSeg(t, s, "cam", all[8]+600000, 600000, in.Hash)
	want = append(want, all[8]+600000)
	// And a deleted one can be written again (replication's replacement).
	writeSeg(t, s, "cam", all[3], 600000, in.Hash)
	want = []int64{all[0], all[3], all[6], all[7], all[8], all[8] + 600000}
	if got := storedStarts(t, s, "cam"); !slices.Equal(got, want) {
		t.Fatalf("after writes: segments %v, want %v", got, want)
	}
	s.Close()
	s2, _ := newStore(t, srv)
	open(t, s2, root, "cam", 0, 0)
	if got := storedStarts(t, s2, "cam"); !slices.Equal(got, want) {
		t.Fatalf("after reopen: segments %v, want %v", got, want)
	}
}

// TestWriteSegmentsBatch: a replication batch, newest first across three
// hours and into holes before stored segments, with one segment that
// overlaps a stored one and two that overlap each other: each result is
// what WriteSegment would answer, and the batch costs one PUT per object,
// one per hour index it changes and one summary.
func TestWriteSegmentsBatch(t *testing.T) {
	srv := testkit.StartS3(t, "edge-batch")
	s, c := newStore(t, srv)
	root := srv.Root("b")
	open(t, s, root, "cam", 0, 0)
	in := testInit(1)
	// Stored: 05:30:00 and 07:30:00, 60 s each.
	writeSeg(t, s, "cam", t0+hourMs/2, 60000, in.Hash)
	writeSeg(t, s, "cam", t0+2*hourMs+hourMs/2, 60000, in.Hash)
	seg := func(start, dur int64) media.Segment {
		return media.Segment{Start: start, Duration: dur, InitHash: in.Hash, Data: segData(start, 200+int(start%997))}
	}
	var batch []media.Segment
	for st := t0 + 3*hourMs - 60000; st >= t0+hourMs/2+60000; st -= 10 * 60000 { // every 10 min, 07:59 down to 05:31
		batch = append(batch, seg(st, 60000))
	}
	batch = append(batch,
		seg(t0+2*hourMs+hourMs/2+30000, 60000), // overlaps the stored 07:30:00
		seg(t0+10*60000, 60000),                // 05:10:00
		seg(t0+10*60000+30000, 60000),          // overlaps the one before it in the batch
	)
	c.reset()
	res, err := s.WriteSegments(ctx, "cam", batch)
	if err != nil || len(res) != len(batch) {
		t.Fatalf("WriteSegments: %d results, %v", len(res), err)
	}
	want := []int64{t0 + hourMs/2, t0 + 2*hourMs + hourMs/2}
	objects := 0
	for i, r := range res {
		b := batch[i]
		overlapping := i >= len(batch)-3 && i != len(batch)-2
		if overlapping {
			if !sdk.IsPermanent(r.Err) {
				t.Fatalf("segment %d at %d: %v, want refused as overlapping", i, b.Start, r.Err)
			}
			continue
		}
		if r.Err != nil || r.Info.Start != b.Start || r.Info.Checksum != media.Checksum(b.Data) || r.Info.Size != int64(len(b.Data)) {
			t.Fatalf("segment %d at %d: %+v", i, b.Start, r)
		}
		want = append(want, b.Start)
		objects++
	}
	slices.Sort(want)
	if got := storedStarts(t, s, "cam"); !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	if n := c.count("PUT", "/seg/"); n != objects {
		t.Fatalf("%d segment PUTs, want %d", n, objects)
	}
	if n := c.count("PUT", "/index/"); n != 3 {
		t.Fatalf("%d index PUTs, want 3 (one per hour)", n)
	}
	if n := c.count("PUT", "/summary"); n != 1 {
		t.Fatalf("%d summary PUTs, want 1", n)
	}
	// Every segment lasts 60 s: those that touch make one range.
	var wantRanges []sdk.Range
	for _, st := range want {
		if n := len(wantRanges); n > 0 && wantRanges[n-1].To == st {
			wantRanges[n-1].To = st + 60000
			continue
		}
		wantRanges = append(wantRanges, sdk.Range{From: st, To: st + 60000})
	}
	s.Close()
	s2, _ := newStore(t, srv)
	open(t, s2, root, "cam", 0, 0)
	if got := storedStarts(t, s2, "cam"); !slices.Equal(got, want) {
		t.Fatalf("after reopen: segments %v, want %v", got, want)
	}
	if got, err := s2.Ranges(ctx, "cam", 0, t0+10*hourMs); err != nil || fmt.Sprint(got) != fmt.Sprint(wantRanges) {
		t.Fatalf("after reopen: ranges %v, %v; want %v", got, err, wantRanges)
	}
}

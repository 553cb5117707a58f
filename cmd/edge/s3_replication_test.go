package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
)

// TestReplicationIntoS3: a secondary whose archive is an s3:// root
// replicates a primary's disk archive. Replication writes the newest
// segments first and then fills the holes before them, which the S3 store
// must accept: afterwards the S3 archive holds every segment of the
// primary's, byte for byte, as the secondary lists it and as the S3 store
// reads it back from versitygw.
func TestReplicationIntoS3(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	srv := testkit.StartS3(t, "edge-repl")
	port := testkit.FreeUDPPort(t)
	tp := testkit.NewTopology(t, replKey)
	pRoot, sRoot := tp.Dir+"/primary", srv.Root("secondary")
	tp.Node(t, "primary", testkit.StreamBlock("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q, depth = \"1h\" }", pRoot)))
	tp.Node(t, "secondary", testkit.StreamBlock("cam", []string{"m4f://primary/cam"},
		`segment_duration = "1s"`, fmt.Sprintf("dvr = { root = %q, depth = \"1h\", replicate = true }", sRoot)))
	path := tp.Write(t)
	primary := tp.Start(t, path, "primary")
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	first := chWaitRecorded(t, primary.URL, "cam", 15, 60*time.Second)

	secondary := testkit.StartNodeEnv(t, path, "secondary", tp.Listen["secondary"], srv.Env())
	testkit.Eventually(t, 60*time.Second, "the secondary to catch up", func() bool {
		st, ok := replAPI(secondary.URL, "cam")
		return ok && st.Replication.CaughtUp
	})
	var n int
	var why string
	var cutoff int64
	testkit.Eventually(t, 15*time.Second, "identical archives", func() bool {
		cutoff = time.Now().Add(-time.Second).UnixMilli()
		p := replList(t, tp.Listen["primary"], "cam")
		s := replList(t, tp.Listen["secondary"], "cam")
		n, why = replSame(p, s, first.From*1000, cutoff)
		return why == ""
	})
	if why != "" {
		t.Fatal(why)
	}
	if n < 12 {
		t.Fatalf("only %d segments compared, want at least 12 of the 15 s recorded first", n)
	}
	st, _ := replAPI(secondary.URL, "cam")
	if st.Replication.SegmentsCopied < 10 || st.Replication.LastError != "" {
		t.Fatalf("progress %+v: want at least 10 segments copied and no error", *st.Replication)
	}
	if refused := testkit.Metric(t, secondary.URL, "edge_dvr_refused_segments_total", "stream=cam"); refused != 0 {
		t.Fatalf("the S3 store refused %v segments", refused)
	}

	// Read back from S3: each segment the secondary holds there is the
	// primary's, byte for byte, over the window compared above.
	secondary.Kill()
	primary.Kill()
	pSegs, _, pst := testkit.Archive(t, pRoot, "cam")
	sSegs, _, sst := openS3Archive(t, srv, sRoot, "cam")
	inS3 := map[int64]bool{}
	for _, s := range sSegs {
		inS3[s.Start] = true
	}
	ctx := context.Background()
	compared := 0
	for _, p := range pSegs {
		if p.Start < first.From*1000 || p.Start+p.Duration > cutoff {
			continue
		}
		if !inS3[p.Start] {
			t.Fatalf("segment %d of the primary is not in S3", p.Start)
		}
		want, err := pst.ReadSegment(ctx, "cam", p.Start)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sst.ReadSegment(ctx, "cam", p.Start)
		if err != nil || !bytes.Equal(got, want) || media.Checksum(got) != p.Checksum {
			t.Fatalf("segment %d in S3: %v, or not the primary's bytes", p.Start, err)
		}
		compared++
	}
	if compared < n {
		t.Fatalf("compared %d segments read back from S3, want at least %d", compared, n)
	}
}

// Command replgen writes a synthetic DVR archive for bench/replicate.sh: one
// stream of random segment bytes with one init, ending now, through the
// dvrstore plugin's own write path (so the layout is exactly a node's).
//
//	replgen -root DIR -stream s -hours 24 -segment 3s -size 32768
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/sdk"
)

func main() {
	root := flag.String("root", "", "archive root directory")
	stream := flag.String("stream", "s", "stream name")
	hours := flag.Float64("hours", 24, "hours of archive, ending now")
	seg := flag.Duration("segment", 3*time.Second, "segment duration")
	size := flag.Int("size", 32<<10, "bytes per segment")
	flag.Parse()
	if *root == "" || *seg <= 0 || *size <= 0 || *hours <= 0 {
		fmt.Fprintln(os.Stderr, "replgen: need -root, and positive -hours, -segment, -size")
		os.Exit(2)
	}
	if err := run(*root, *stream, *hours, *seg, *size); err != nil {
		fmt.Fprintln(os.Stderr, "replgen:", err)
		os.Exit(1)
	}
}

func run(root, stream string, hours float64, seg time.Duration, size int) error {
	ctx := context.Background()
	st := dvrstore.New(nil)
	defer st.Close()
	if err := st.OpenStream(ctx, sdk.StreamConfig{Stream: stream, Root: root}); err != nil {
		return err
	}
	initData := []byte("synthetic init segment for the replication benchmark")
	init := media.Init{Hash: media.InitHash(initData), Data: initData}
	if err := st.WriteInit(ctx, stream, init); err != nil {
		return err
	}
	n := int(time.Duration(hours*float64(time.Hour)) / seg)
	start := time.Now().Add(-time.Duration(n) * seg).UnixMilli()
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, size)
	var total int64
	for i := 0; i < n; i++ {
		for k := 0; k+8 <= len(data); k += 8 {
			v := r.Uint64()
			for b := range 8 {
				data[k+b] = byte(v >> (8 * b))
			}
		}
		if _, err := st.WriteSegment(ctx, stream, media.Segment{Start: start, Duration: seg.Milliseconds(), InitHash: init.Hash, Data: data}); err != nil {
			return err
		}
		total += int64(size)
		start += seg.Milliseconds()
	}
	fmt.Printf("%d %d\n", n, total)
	return nil
}

package main

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/chain"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/plugins/s3store"
	"github.com/edgedvr/edge/sdk"
)

// objectArchive fronts a local archive whose store is not on local disk
// (an s3:// root): its segments have no Path, so a viewer's read would
// otherwise cross the plugin each time. Concurrent reads of one segment
// collapse into one ReadSegment (one GET on the object store); what is read
// goes into the disk cache when the stream has one (from the cache's
// misses-th request on), and listings then name
// the cached file so the front sends it with sendfile. The front's memory
// cache keeps the bytes of a read that has no disk cache.
type objectArchive struct {
	localArchive
	disk   *cache.Disk // nil without a cache
	flight *singleflight.Group
	// recent holds the last reads for a few seconds: a viewer that asks
	// just after a read finished, before the front's memory cache has the
	// bytes, shares them instead of fetching again. The slices are the
	// ones the memory cache keeps, so this costs no copy.
	recent *expirable.LRU[int64, []byte]
	log    *slog.Logger
}

// Bounds of objectArchive.recent.
const (
	recentReads   = 16
	recentReadTTL = 5 * time.Second
)

// storeReadTimeout bounds one coalesced read from the store.
const storeReadTimeout = 10 * time.Second

func (a objectArchive) withPaths(infos []sdk.SegmentInfo) []sdk.SegmentInfo {
	if a.disk == nil {
		return infos
	}
	for i, in := range infos {
		if c, ok := a.disk.Get(a.name, in.Start); ok && c.Size == in.Size && c.Checksum == in.Checksum {
			infos[i].Path = c.Path
		}
	}
	return infos
}

func (a objectArchive) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	infos, err := a.localArchive.Segments(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return a.withPaths(infos), nil
}

func (a objectArchive) ReadSegment(ctx context.Context, start int64) ([]byte, error) {
	if b, ok := a.recent.Get(start); ok {
		return b, nil
	}
	v, err, _ := a.flight.Do(strconv.FormatInt(start, 10), func() (any, error) {
		if b, ok := a.recent.Get(start); ok { // read by a flight that just ended
			return b, nil
		}
		// Not the first caller's context: one viewer leaving must not fail the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeReadTimeout)
		defer cancel()
		b, err := a.localArchive.ReadSegment(fctx, start)
		if err != nil {
			return nil, err
		}
		if a.disk != nil && a.disk.Want(a.name, start) {
			if infos, lerr := a.localArchive.Segments(fctx, start, start+1); lerr == nil && len(infos) == 1 &&
				infos[0].Start == start && infos[0].Checksum == media.Checksum(b) {
				// Written behind the answer; meanwhile recent holds the bytes.
				if _, perr := a.disk.PutBehind(a.name, infos[0], b); perr != nil {
					a.log.Warn("segment not kept in the disk cache", "stream", a.name, "start", start, "error", perr)
				}
			}
		}
		a.recent.Add(start, b)
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

func (a objectArchive) ReadInit(ctx context.Context, hash string) (media.Init, error) {
	v, err, _ := a.flight.Do("init/"+hash, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeReadTimeout)
		defer cancel()
		return a.localArchive.ReadInit(fctx, hash)
	})
	if err != nil {
		return media.Init{}, err
	}
	return v.(media.Init), nil
}

// local is the node's own archive of s: read through the store, and
// fronted by an objectArchive when the root is in an object store.
func (a *archives) local(s *node.Stream) chain.Local {
	la := localArchive{name: s.Name(), store: a.store}
	dvr := s.Config().DVR
	if dvr == nil || !s3store.IsRoot(dvr.Root) {
		return la
	}
	oa := objectArchive{localArchive: la, flight: &singleflight.Group{}, log: a.log,
		recent: expirable.NewLRU[int64, []byte](recentReads, nil, recentReadTTL)}
	if c := s.Config().Cache; c != nil {
		d, err := a.disk(c.Root, time.Duration(c.Depth), int64(c.MaxSize), c.Misses)
		if err != nil {
			a.log.Error("disk cache unusable, archive served without it", "stream", s.Name(), "error", err)
		}
		oa.disk = d
	}
	return oa
}

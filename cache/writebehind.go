package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// MaxBehind bounds the background writes of a Disk (PutBehind) in flight;
// a segment offered beyond it is not cached (a later request fetches it
// again).
const MaxBehind = 16

// diskWrite is one segment being written: its bytes are held until the
// file is in place, and their size is reserved in the cache's budget.
type diskWrite struct {
	key  Key
	info sdk.SegmentInfo
	data []byte
	// doomed is the files evicted to make room, deleted by the writer
	// (off the caller's path for a write behind).
	doomed []string
}

// Put stores the bytes of a segment of stream described by info (Start,
// Duration and InitHash are required; Size and Checksum are checked when
// set) and returns once the file is written, flushed and in place. Storing
// a segment that is cached, being stored, older than Depth or larger than
// MaxSize does nothing. After it, the cache is within MaxSize.
func (d *Disk) Put(stream string, info sdk.SegmentInfo, data []byte) error {
	w, err := d.begin(stream, info, data, false)
	if w == nil {
		return err
	}
	return d.finish(w)
}

// PutBehind is Put without the wait: it checks what it can at once
// (stream name, size, Depth, MaxSize), reserves the segment's room and
// returns; the checksum, the file write, its fsync and the rename run in
// the background, so the caller can answer its viewer first (the
// background goroutine yields once before it starts, so the viewers the
// caller readies next are not held behind its write and fsync). Until the
// file is in place, Pending returns the bytes; a crash meanwhile leaves no
// file under the segment's name (the temp file is deleted at the next
// OpenDisk). It returns false when the segment is not being written: an
// error (returned) or nothing to do (cached, in flight, too old, too large,
// or MaxBehind writes in flight, counted in WritesSkipped). A write that
// fails in the background is logged and counted in WriteErrors, and the
// segment stays a miss. data must not be modified afterwards.
func (d *Disk) PutBehind(stream string, info sdk.SegmentInfo, data []byte) (bool, error) {
	w, err := d.begin(stream, info, data, true)
	if w == nil {
		return false, err
	}
	d.behind.Add(1)
	go func() {
		defer d.behind.Done()
		defer d.inFlight.Add(-1)
		// A new goroutine runs next on its P, ahead of the viewers the
		// caller readied just before; its write and fsync would then hold
		// the P while they wait. It lets them go first.
		runtime.Gosched()
		if err := d.finish(w); err != nil {
			d.log.Warn("disk cache: background write failed", "stream", w.key.Stream, "start", w.key.Start, "error", err)
		}
	}()
	return true, nil
}

// Pending returns the bytes and description of a segment of stream being
// written (by Put or PutBehind) but not yet in place, so that a request
// meanwhile is not a second fetch. The slice must not be modified.
func (d *Disk) Pending(stream string, start int64) ([]byte, sdk.SegmentInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.pending[Key{Stream: stream, Start: start}]
	if !ok {
		return nil, sdk.SegmentInfo{}, false
	}
	return w.data, w.info, true
}

// Wait blocks until the background writes started so far have ended.
func (d *Disk) Wait() { d.behind.Wait() }

// begin checks a segment to store and reserves its key and room. It
// returns nil (with or without an error) when there is nothing to write.
// behind bounds the writes in flight by MaxBehind.
func (d *Disk) begin(stream string, info sdk.SegmentInfo, data []byte, behind bool) (*diskWrite, error) {
	if err := sdk.CheckStreamName(stream); err != nil {
		return nil, fmt.Errorf("cache: put segment: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("cache: put segment %s/%d: no data", stream, info.Start)
	}
	if info.Size != 0 && info.Size != int64(len(data)) {
		return nil, fmt.Errorf("cache: put segment %s/%d: size %d, want %d", stream, info.Start, len(data), info.Size)
	}
	size := int64(len(data))
	if d.expired(info.Start+info.Duration) || (d.cfg.MaxSize > 0 && size > d.cfg.MaxSize) {
		return nil, nil
	}
	info.Size = size
	info.Path = ""
	w := &diskWrite{key: Key{Stream: stream, Start: info.Start}, info: info, data: data}
	d.mu.Lock()
	_, busy := d.pending[w.key]
	s := d.streams[stream]
	if busy || (s != nil && s.segs[info.Start] != nil) {
		d.mu.Unlock()
		return nil, nil
	}
	if behind && d.inFlight.Load() >= MaxBehind {
		d.mu.Unlock()
		d.writesSkipped.Add(1)
		return nil, nil
	}
	d.reserved += size
	doomed := d.trimLocked()
	if d.cfg.MaxSize > 0 && d.bytes+d.reserved > d.cfg.MaxSize {
		// Writes in flight fill the cache: no room until they land.
		d.reserved -= size
		d.mu.Unlock()
		d.unlink(doomed)
		d.writesSkipped.Add(1)
		return nil, nil
	}
	d.pending[w.key] = w
	if behind {
		d.inFlight.Add(1) // under mu: MaxBehind holds
	}
	d.mu.Unlock()
	w.doomed = doomed
	return w, nil
}

// finish checks the bytes of w against its checksum, writes them to a temp
// file, flushes it and renames it into place, then indexes the segment and
// releases its reservation (also on failure).
func (d *Disk) finish(w *diskWrite) error {
	stream, info := w.key.Stream, w.info
	d.unlink(w.doomed)
	err := func() error {
		sum := media.Checksum(w.data)
		if info.Checksum != "" && info.Checksum != sum {
			return fmt.Errorf("checksum %s, want %s", sum, info.Checksum)
		}
		info.Checksum = sum
		sn := SegmentName{Start: info.Start, Duration: info.Duration, Size: info.Size, InitHash: info.InitHash, Checksum: sum}
		name, err := sn.Format()
		if err != nil {
			return err
		}
		dir := filepath.Join(d.cfg.Root, stream)
		info.Path = filepath.Join(dir, name)
		d.mu.Lock()
		_, dying := d.unlinking[info.Path]
		d.mu.Unlock()
		if dying {
			// An older copy of this very file is being deleted: writing it
			// now could lose the new one to that delete. It stays a miss.
			return errDying
		}
		return d.writeAtomic(dir, info.Path, w.data)
	}()

	d.mu.Lock()
	delete(d.pending, w.key)
	d.reserved -= info.Size
	if err != nil {
		d.mu.Unlock()
		if errors.Is(err, errDying) {
			return nil
		}
		d.writeErrors.Add(1)
		return fmt.Errorf("cache: put segment %s/%d: %w", stream, info.Start, err)
	}
	var doomed []string
	if old := d.insertLocked(&diskEntry{stream: stream, info: info}); old != nil {
		doomed = append(doomed, d.doomLocked(old.info.Path))
	}
	doomed = append(doomed, d.trimLocked()...)
	d.mu.Unlock()
	d.unlink(doomed)
	return nil
}

// writeAtomic writes data to a temp file under Root/.tmp, syncs it and
// renames it to path. The directory is not synced: a rename lost in a crash
// only costs a cache miss.
func (d *Disk) writeAtomic(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.tmp, "put-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	half := len(data) / 2
	_, err = f.Write(data[:half])
	if err == nil && d.hook != nil {
		d.hook("partial", tmp)
	}
	if err == nil {
		_, err = f.Write(data[half:])
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil && d.hook != nil {
		d.hook("synced", tmp)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// errDying is finish's "nothing written": the file's name is being deleted.
var errDying = errors.New("cache: segment file is being deleted")

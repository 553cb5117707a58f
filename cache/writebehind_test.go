package cache

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
)

// gate blocks the disk's file writes at stage until released; each write
// that reaches the stage sends its temp file's path on reached.
type gate struct {
	reached chan string
	release chan struct{}
}

func blockAt(d *Disk, stage string) *gate {
	g := &gate{reached: make(chan string, 64), release: make(chan struct{})}
	d.hook = func(s, tmp string) {
		if s == stage {
			g.reached <- tmp
			<-g.release
		}
	}
	return g
}

// streamFiles lists the files under root/stream.
func streamFiles(t *testing.T, root, stream string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(root, stream))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestPutBehindAnswersFirst: PutBehind returns while the file is still being
// written; meanwhile the segment is pending (its bytes served from memory),
// not indexed, and no file carries its name; once the write ends the file
// holds exactly the bytes under the name Put would give it.
func TestPutBehindAnswersFirst(t *testing.T) {
	root := t.TempDir()
	d := openDisk(t, DiskConfig{Root: root})
	g := blockAt(d, "synced")
	data := segData(base, 5000)
	ok, err := d.PutBehind("cam1", segInfo(base, 3000), data)
	if !ok || err != nil {
		t.Fatalf("put behind: %v %v", ok, err)
	}
	tmp := <-g.reached // the write is flushed but not renamed, and PutBehind has returned
	if fi, err := os.Stat(tmp); err != nil || fi.Size() != 5000 {
		t.Fatalf("temp file during the write: %v", err)
	}
	if _, ok := d.Get("cam1", base); ok {
		t.Error("segment indexed before its file is in place")
	}
	if l := d.List("cam1", base, base+3000); len(l) != 0 {
		t.Errorf("segment listed before its file is in place: %+v", l)
	}
	if f := streamFiles(t, root, "cam1"); len(f) != 0 {
		t.Errorf("files under the stream before the rename: %v", f)
	}
	if b, info, ok := d.Pending("cam1", base); !ok || !bytes.Equal(b, data) || info.Size != 5000 {
		t.Errorf("pending: %v size %d", ok, info.Size)
	}
	// A second put of the same segment while the first is in flight does nothing.
	if ok, err := d.PutBehind("cam1", segInfo(base, 3000), data); ok || err != nil {
		t.Errorf("second put behind of a pending segment: %v %v, want false, nil", ok, err)
	}
	if st := d.Stats(); st.WritesInFlight != 1 {
		t.Errorf("writes in flight %d, want 1", st.WritesInFlight)
	}
	close(g.release)
	d.Wait()
	info, ok := d.Get("cam1", base)
	if !ok {
		t.Fatal("segment not cached after the background write")
	}
	want, _ := SegmentName{Start: base, Duration: 3000, Size: 5000, InitHash: "abcdef0123456789", Checksum: media.Checksum(data)}.Format()
	if filepath.Base(info.Path) != want {
		t.Errorf("file %s, want %s", filepath.Base(info.Path), want)
	}
	if b, err := os.ReadFile(info.Path); err != nil || !bytes.Equal(b, data) {
		t.Errorf("cached file does not hold the bytes: %v", err)
	}
	if _, _, ok := d.Pending("cam1", base); ok {
		t.Error("still pending after the write")
	}
	if st := d.Stats(); st.WritesInFlight != 0 || st.Bytes != 5000 || st.WriteErrors != 0 {
		t.Errorf("stats after the write: %+v", st)
	}
}

// TestPutBehindMaxSize: the bytes of writes in flight count in MaxSize, so
// the cache's files (cached and being written) never exceed it: a write
// evicts the least recently used segments before it starts, and a write
// that finds no room (the rest is in flight) is skipped and counted.
func TestPutBehindMaxSize(t *testing.T) {
	root := t.TempDir()
	d := openDisk(t, DiskConfig{Root: root, MaxSize: 2500})
	if err := d.Put("cam1", segInfo(base, 3000), segData(base, 1000)); err != nil {
		t.Fatal(err)
	}
	g := blockAt(d, "partial")
	for i, want := range []bool{true, true, false} {
		start := base + int64(i+1)*3000
		ok, err := d.PutBehind("cam1", segInfo(start, 3000), segData(start, 1000))
		if err != nil || ok != want {
			t.Fatalf("put behind %d: %v %v, want %v", i, ok, err, want)
		}
		if ok {
			<-g.reached
		}
		if got := diskUse(t, root); got > 2500 {
			t.Fatalf("after put behind %d: %d bytes on disk, over MaxSize 2500", i, got)
		}
	}
	if _, ok := d.Get("cam1", base); ok {
		t.Error("least recently used segment kept: the writes in flight had no room")
	}
	close(g.release)
	d.Wait()
	st := d.Stats()
	if st.Bytes != 2000 || st.Entries != 2 || st.WritesSkipped != 1 {
		t.Errorf("after the writes: %+v, want 2000 bytes, 2 entries, 1 skipped", st)
	}
	if got := diskUse(t, root); got != 2000 {
		t.Errorf("%d bytes on disk, want 2000", got)
	}
}

// diskUse sums the sizes of the regular files under root (temp files included).
func diskUse(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPutBehindMaxBehind: at most MaxBehind writes run in the background;
// one more is skipped and counted, and is accepted again once they end.
func TestPutBehindMaxBehind(t *testing.T) {
	d := openDisk(t, DiskConfig{})
	g := blockAt(d, "partial")
	for i := 0; i < MaxBehind; i++ {
		start := base + int64(i)*3000
		if ok, err := d.PutBehind("cam1", segInfo(start, 3000), segData(start, 100)); !ok || err != nil {
			t.Fatalf("put behind %d: %v %v", i, ok, err)
		}
		<-g.reached
	}
	extra := base + MaxBehind*3000
	if ok, _ := d.PutBehind("cam1", segInfo(extra, 3000), segData(extra, 100)); ok {
		t.Fatal("write accepted beyond MaxBehind")
	}
	if st := d.Stats(); st.WritesSkipped != 1 || st.WritesInFlight != MaxBehind {
		t.Fatalf("stats: %+v", st)
	}
	close(g.release)
	d.Wait()
	if ok, _ := d.PutBehind("cam1", segInfo(extra, 3000), segData(extra, 100)); !ok {
		t.Fatal("write refused once the others ended")
	}
	d.Wait()
	if st := d.Stats(); st.Entries != MaxBehind+1 {
		t.Fatalf("entries %d, want %d", st.Entries, MaxBehind+1)
	}
}

// TestPutBehindFailures: a write that fails in the background (wrong
// checksum; the stream's directory cannot be made) is counted, leaves no
// file, no reservation and a miss.
func TestPutBehindFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		sum   string
	}{
		{name: "wrong checksum", sum: "00000000"},
		{name: "stream dir is a file", setup: func(t *testing.T, root string) {
			if err := os.WriteFile(filepath.Join(root, "cam1"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			d := openDisk(t, DiskConfig{Root: root, MaxSize: 1500})
			if tt.setup != nil {
				tt.setup(t, root)
			}
			info := segInfo(base, 3000)
			info.Checksum = tt.sum
			if ok, err := d.PutBehind("cam1", info, segData(base, 1000)); !ok || err != nil {
				t.Fatalf("put behind: %v %v", ok, err)
			}
			d.Wait()
			st := d.Stats()
			if st.WriteErrors != 1 || st.Entries != 0 || st.Bytes != 0 {
				t.Errorf("stats: %+v, want 1 write error and nothing cached", st)
			}
			if _, ok := d.Get("cam1", base); ok {
				t.Error("failed write served")
			}
			if es, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(es) != 0 {
				t.Errorf("temp files left: %d", len(es))
			}
			// Its reservation is gone: a full-size segment still fits.
			other := base + 3000
			if err := d.Put("cam2", segInfo(other, 3000), segData(other, 1500)); err != nil {
				t.Fatal(err)
			}
			if _, ok := d.Get("cam2", other); !ok {
				t.Error("room of the failed write not released")
			}
		})
	}
}

const crashEnv = "EDGE_CACHE_CRASH_CHILD"

// TestPutBehindKilled: a process SIGKILLed in the middle of a background
// write (half the bytes in the temp file; or all of them flushed, before
// the rename) leaves no file under the segment's name; the next OpenDisk
// deletes the temp file and the segment is a miss, then cached anew.
func TestPutBehindKilled(t *testing.T) {
	for _, stage := range []string{"partial", "synced"} {
		t.Run(stage, func(t *testing.T) {
			root := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
			cmd.Env = append(os.Environ(), crashEnv+"="+root+","+stage)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			tmp, ok := strings.CutPrefix(strings.TrimSpace(line), "writing ")
			if !ok {
				t.Fatalf("child said %q", line)
			}
			want := int64(crashSize / 2)
			if stage == "synced" {
				want = crashSize
			}
			if fi, err := os.Stat(tmp); err != nil || fi.Size() != want {
				t.Fatalf("temp file at the kill: %v, want %d bytes", err, want)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if f := streamFiles(t, root, "cam1"); len(f) != 0 {
				t.Fatalf("files visible under the stream after the kill: %v", f)
			}
			d := openDisk(t, DiskConfig{Root: root})
			if _, ok := d.Get("cam1", base); ok {
				t.Fatal("segment of the killed write served")
			}
			if es, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(es) != 0 {
				t.Errorf("temp files left after reopening: %d", len(es))
			}
			if st := d.Stats(); st.Entries != 0 || st.Bytes != 0 {
				t.Errorf("stats after reopening: %+v", st)
			}
			data := segData(base, crashSize)
			if ok, err := d.PutBehind("cam1", segInfo(base, 3000), data); !ok || err != nil {
				t.Fatal(ok, err)
			}
			d.Wait()
			info, ok := d.Get("cam1", base)
			if !ok {
				t.Fatal("not cached after the restart")
			}
			if b, err := os.ReadFile(info.Path); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("cached bytes: %v", err)
			}
		})
	}
}

const crashSize = 1 << 20

// TestCrashChild is the child process of TestPutBehindKilled: it starts a
// background write, says where its temp file is at the stage asked, and
// waits there to be killed.
func TestCrashChild(t *testing.T) {
	env := os.Getenv(crashEnv)
	if env == "" {
		t.Skip("child process of TestPutBehindKilled")
	}
	root, stage, _ := strings.Cut(env, ",")
	d, err := OpenDisk(DiskConfig{Root: root}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	d.hook = func(s, tmp string) {
		if s == stage {
			fmt.Println("writing " + tmp)
			time.Sleep(time.Hour) // not a wait for a condition: the parent kills the process here
		}
	}
	if ok, err := d.PutBehind("cam1", segInfo(base, 3000), segData(base, crashSize)); !ok || err != nil {
		t.Fatal("put behind: " + strconv.FormatBool(ok))
	}
	d.Wait()
	t.Fatal("the write ended: the parent did not kill the child")
}

package dvrstore

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// crashRootEnv makes the test binary run crashWriter instead of the tests;
// crashFillEnv makes it fill holes backwards instead of appending.
const (
	crashRootEnv = "DVRSTORE_CRASH_ROOT"
	crashFillEnv = "DVRSTORE_CRASH_FILL"
	// crashBatchEnv makes the filling writer store batches of up to 20
	// segments with WriteSegments.
	crashBatchEnv = "DVRSTORE_CRASH_BATCH"
	// crashNamedEnv makes the batches use named temp files (the path
	// where O_TMPFILE is missing) instead of nameless ones.
	crashNamedEnv = "DVRSTORE_CRASH_NAMED"
)

func TestMain(m *testing.M) {
	if root := os.Getenv(crashRootEnv); root != "" {
		crashWriter(root)
		return
	}
	code := m.Run()
	cleanupBenchArchive()
	os.Exit(code)
}

// crashWriter opens the stream at root and writes segments (fsync and all)
// until it is killed, printing the start of each acknowledged segment.
func crashWriter(root string) {
	s := New(nil)
	if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	init := media.Init{Data: []byte("init")}
	init.Hash = media.InitHash(init.Data)
	if err := s.WriteInit(ctx, "cam1", init); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fill := os.Getenv(crashFillEnv) != ""
	start := t0
	segs, _ := s.Segments(ctx, "cam1", 0, maxStart)
	switch {
	case fill && len(segs) == 0:
		// The newest segment first, far after t0; then fill backwards.
		start = t0 + 10*hourMs
	case fill:
		start = segs[0].Start
	case len(segs) > 0:
		start = segs[len(segs)-1].End()
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	out := bufio.NewWriter(os.Stdout)
	batch := os.Getenv(crashBatchEnv) != ""
	noTmpFile = os.Getenv(crashNamedEnv) != ""
	var pending []media.Segment
	for first := true; ; first = false {
		dur := 1000 + r.Int64N(5000)
		if fill && !(first && len(segs) == 0) {
			// Before the oldest one, jumping often enough to cross hours.
			start -= dur + r.Int64N(2)*r.Int64N(20*60000)
		}
		data := make([]byte, 1000+r.IntN(400_000))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		seg := media.Segment{Start: start, Duration: dur, InitHash: init.Hash, Data: data}
		if batch {
			pending = append(pending, seg)
			if len(pending) < 1+r.IntN(20) {
				continue
			}
			res, err := s.WriteSegments(ctx, "cam1", pending)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			for k, x := range res {
				if x.Err != nil {
					fmt.Fprintln(os.Stderr, x.Err)
					os.Exit(2)
				}
				fmt.Fprintln(out, pending[k].Start)
			}
			out.Flush()
			pending = pending[:0]
			continue
		}
		if _, err := s.WriteSegment(ctx, "cam1", seg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(out, start)
		out.Flush()
		if !fill {
			// Jump often enough that the writer crosses hours.
			start += dur + r.Int64N(2)*r.Int64N(20*60000)
		}
	}
}

// TestCrashSafety kills a writing process with SIGKILL at random moments,
// then checks after each kill that a reopened store lists every
// acknowledged segment, that every listed segment's file matches its size
// and checksum, and that no temp file or unindexed segment is left.
func TestCrashSafety(t *testing.T) { crashRounds(t, false, false) }

// TestCrashSafetyFillingHoles is TestCrashSafety for a writer that fills
// holes backwards from a newest segment, as replication does.
func TestCrashSafetyFillingHoles(t *testing.T) { crashRounds(t, true, false) }

// TestCrashSafetyBatches is TestCrashSafetyFillingHoles for a writer that
// stores batches of segments (WriteSegments, as replication does). A batch
// may span hours that are not reconciled at open, so a file renamed into
// such an hour whose index line was not yet written may stay on disk
// unlisted (it is overwritten when copied again); it must never be listed
// torn. On Linux the batches write nameless files (O_TMPFILE) and link
// them into place.
func TestCrashSafetyBatches(t *testing.T) {
	if runtime.GOOS == "linux" && tmpFileLink(t.TempDir()) == linkNone {
		t.Fatal("no O_TMPFILE link on this Linux filesystem: the batch path under test would not run")
	}
	crashRounds(t, true, true)
}

// TestCrashSafetyBatchesNamedTemp is TestCrashSafetyBatches for batches
// written to named temp files and renamed into place (where O_TMPFILE is
// missing).
func TestCrashSafetyBatchesNamedTemp(t *testing.T) {
	t.Setenv(crashNamedEnv, "1")
	crashRounds(t, true, true)
}

func crashRounds(t *testing.T, fill, batch bool) {
	root := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	acked := map[int64]bool{}
	for round := range 6 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
		if fill {
			cmd.Env = append(cmd.Env, crashFillEnv+"=1")
		}
		if batch {
			cmd.Env = append(cmd.Env, crashBatchEnv+"=1")
		}
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		want := 1 + r.IntN(15)
		for n := 0; n < want && sc.Scan(); n++ {
			start, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("round %d: helper said %q", round, sc.Text())
			}
			acked[start] = true
		}
		// Land the kill at a random point of the next write.
		time.Sleep(time.Duration(r.IntN(4000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() {
			if start, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
				acked[start] = true
			}
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: helper ended with %v, want killed", round, err)
		}

		s := New(nil)
		if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		segs := allSegments(t, s, "cam1")
		listed := map[int64]bool{}
		for _, sg := range segs {
			listed[sg.Start] = true
		}
		for start := range acked {
			if !listed[start] {
				t.Fatalf("round %d: acknowledged segment %d is not listed", round, start)
			}
		}
		checkSegments(t, s, "cam1", segs)
		if names, _ := readDirNames(filepath.Join(root, "cam1", tmpDirName)); len(names) != 0 {
			t.Fatalf("round %d: temp files left: %v", round, names)
		}
		// Every segment file on disk is listed: nothing torn or orphaned.
		files := 0
		filepath.WalkDir(filepath.Join(root, "cam1"), func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, segmentExt) {
				files++
			}
			return nil
		})
		if files != len(segs) && !(batch && files > len(segs)) {
			t.Fatalf("round %d: %d segment files on disk, %d listed", round, files, len(segs))
		}
		t.Logf("round %d: %d segments, %d acknowledged", round, len(segs), len(acked))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

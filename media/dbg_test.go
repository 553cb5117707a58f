package media

import ("testing";"os";"time";"path/filepath";"strconv";"strings";"math/rand/v2";"runtime")

func TestDbgHang(t *testing.T) {
	files, _ := filepath.Glob("media/testdata/fuzz/FuzzSegmenter/*")
	files2, _ := filepath.Glob("testdata/fuzz/FuzzSegmenter/*")
	files = append(files, files2...)
	var seeds [][]byte
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.SplitN(string(b), "\n", 2)
		s := strings.TrimSpace(lines[1])
		s = strings.TrimSuffix(strings.TrimPrefix(s, "[]byte("), ")")
		data, err := strconv.Unquote(s)
		if err != nil { t.Fatal(f, err) }
		seeds = append(seeds, []byte(data))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(40 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		d := append([]byte(nil), seeds[rng.IntN(len(seeds))]...)
		for k := rng.IntN(8); k >= 0; k-- {
			switch rng.IntN(3) {
			case 0: d[rng.IntN(len(d))] = byte(rng.Uint32())
			case 1: i := rng.IntN(len(d)); d = append(d[:i], d[min(len(d), i+rng.IntN(50)):]...)
			case 2: i := rng.IntN(len(d)); d[i] ^= 1 << rng.IntN(8)
			}
			if len(d) == 0 { d = []byte{0} }
		}
		done := make(chan bool)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				os.WriteFile("/tmp/hang.bin", d, 0644)
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				os.WriteFile("/tmp/hang.stack", buf[:n], 0644)
				panic("hang")
			}
		}()
		feed(t, SegmenterConfig{TargetDuration: time.Millisecond}, 1, d)
		close(done)
		n++
	}
	t.Log("runs", n)
}

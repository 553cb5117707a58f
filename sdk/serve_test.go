package sdk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// closedEnv names the file a closingStore creates when it is closed.
const closedEnv = "EDGE_SDK_TEST_CLOSED"

// closingStore is a Store that also implements the optional io.Closer.
type closingStore struct {
	Store
	marker string
}

func (c closingStore) Close() error { return os.WriteFile(c.marker, []byte("closed"), 0o644) }

// TestServeClosesAnIOCloser: the optional io.Closer of a served store is
// found by type assertion and called when the host ends the session.
func TestServeClosesAnIOCloser(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "closed")
	s := &Supervisor{Name: "closer", Kind: KindDVRStore, Command: func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = []string{helperEnv + "=closer", closedEnv + "=" + marker}
		return cmd
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := s.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Streams(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("closed before the session ended")
	}
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the store's Close was not called when the host ended the session")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

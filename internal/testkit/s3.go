package testkit

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Version is the versitygw release the tests run against.
const S3Version = "v1.8.0"

// S3 is a real S3 server for a test: versitygw with its posix backend,
// on a free 127.0.0.1 port, with one bucket made.
type S3 struct {
	Endpoint string // http://127.0.0.1:PORT
	Access   string
	Secret   string
	Bucket   string
	Dir      string // the posix backend's directory

	t    testing.TB
	bin  string
	port int
	proc *Proc
	// logs holds the request logs of earlier runs (before a Restart).
	logs []string
}

// versitygw finds the versitygw binary in PATH or in $HOME/go/bin.
func versitygw(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	t.Fatalf("versitygw not found in PATH or $HOME/go/bin: install it with `go install github.com/versity/versitygw/cmd/versitygw@%s` (scripts/test.sh does)", S3Version)
	return ""
}

// StartS3 starts versitygw and makes the bucket; it is killed when the
// test ends.
func StartS3(t testing.TB, bucket string) *S3 {
	t.Helper()
	s := &S3{
		Access: "edgetestaccess", Secret: "edgetestsecret0123456789",
		Bucket: bucket, Dir: t.TempDir(), t: t, bin: versitygw(t), port: FreePort(t),
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.port)
	s.start()
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket %s: %v", bucket, err)
	}
	return s
}

func (s *S3) start() {
	s.t.Helper()
	s.proc = Start(s.t, s.bin, "--access", s.Access, "--secret", s.Secret,
		"--port", "127.0.0.1:"+strconv.Itoa(s.port), "posix", s.Dir)
	Eventually(s.t, 15*time.Second, "versitygw to answer", func() bool {
		if s.proc.Exited() {
			s.t.Fatalf("versitygw exited:\n%s", s.proc.Output())
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
}

// Restart kills the server (SIGKILL) and starts it again on the same port
// and directory. down is called while it is down.
func (s *S3) Restart(down func()) {
	s.t.Helper()
	s.proc.Kill()
	s.logs = append(s.logs, s.proc.Output())
	if down != nil {
		down()
	}
	s.start()
}

// Stop kills the server.
func (s *S3) Stop() { s.proc.Kill() }

// Env is the standard AWS environment for a client of this server.
func (s *S3) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":      s.Endpoint,
		"AWS_REGION":            "us-east-1",
		"AWS_ACCESS_KEY_ID":     s.Access,
		"AWS_SECRET_ACCESS_KEY": s.Secret,
	}
}

// Setenv sets Env in the test process (and so in the nodes and plugins it
// starts) for the rest of the test.
func (s *S3) Setenv(t testing.TB) {
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
}

// Client is a minio client of this server.
func (s *S3) Client() *minio.Client {
	s.t.Helper()
	c, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(s.Access, s.Secret, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Requests counts the requests of a method whose path contains part, from
// the server's request log (all runs).
func (s *S3) Requests(method, part string) int {
	n := 0
	for _, out := range append(s.logs, s.proc.Output()) {
		for line := range strings.SplitSeq(out, "\n") {
			f := strings.Split(line, "|")
			if len(f) >= 7 && strings.TrimSpace(f[5]) == method && strings.Contains(f[6], part) {
				n++
			}
		}
	}
	return n
}

// Root is the s3:// root of a prefix in the bucket.
func (s *S3) Root(prefix string) string {
	return fmt.Sprintf("s3://%s/%s", s.Bucket, prefix)
}

// PID is the server process's id.
func (s *S3) PID() int { return s.proc.Cmd.Process.Pid }

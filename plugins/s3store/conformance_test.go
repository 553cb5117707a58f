package s3store

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/sdk"
	"github.com/edgedvr/edge/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	srv := testkit.StartS3(t, "edge-conformance")
	var n atomic.Int64
	sdktest.RunStore(t, sdktest.StoreHarness{
		Open: func(t *testing.T) sdk.Store {
			s := New(nil)
			env := srv.Env()
			s.Env = func(k string) string { return env[k] }
			return s
		},
		Close: func(t *testing.T, st sdk.Store) { st.(*Store).Close() },
		Root:  func(t *testing.T) string { return srv.Root("c" + strconv.FormatInt(n.Add(1), 10)) },
	})
}

package dvrstore

import (
	"testing"

	"github.com/edgedvr/edge/sdk"
	"github.com/edgedvr/edge/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.RunStore(t, sdktest.StoreHarness{
		Open:  func(t *testing.T) sdk.Store { return New(nil) },
		Close: func(t *testing.T, st sdk.Store) { st.(*Store).Close() },
		Root:  func(t *testing.T) string { return t.TempDir() },
	})
}

package main

import (
	"testing"

	"github.com/edgedvr/edge/sdk"
	"github.com/edgedvr/edge/sdk/sdktest"
)

// TestConformance runs the SDK's store conformance suite in process.
func TestConformance(t *testing.T) {
	sdktest.RunStore(t, sdktest.StoreHarness{
		Open:  func(t *testing.T) sdk.Store { return newStore() },
		Close: func(t *testing.T, st sdk.Store) { st.(*store).Close() },
		Root:  func(t *testing.T) string { return t.TempDir() },
	})
}

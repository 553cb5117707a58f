// Command flatstore is an example third-party dvrstore plugin for edge: one file per segment, built against the edge plugin SDK only.
package main

import (
	"fmt"
	"os"

	"github.com/edgedvr/edge/sdk"
)

func main() {
	if err := sdk.Serve(sdk.ServeConfig{Store: newStore()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

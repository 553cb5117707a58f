package sdk

import (
	"reflect"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

func equalAny(a, b any) bool { return reflect.DeepEqual(a, b) }

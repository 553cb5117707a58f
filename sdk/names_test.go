package sdk

import "testing"

func TestCheckStreamName(t *testing.T) {
	good := []string{"a", "cam01", "replica_example", "x.y-z", "A9"}
	bad := []string{"", ".", "..", ".hidden", "a/b", "a\\b", "../etc", "a b", "a%2fb", "é", string(make([]byte, 129))}
	for _, n := range good {
		if err := CheckStreamName(n); err != nil {
			t.Errorf("CheckStreamName(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := CheckStreamName(n); err == nil {
			t.Errorf("CheckStreamName(%q) = nil, want error", n)
		}
	}
}

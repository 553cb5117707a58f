package names

import "testing"

func TestCheckStream(t *testing.T) {
	good := []string{"a", "cam01", "replica_example", "x.y-z", "A9"}
	bad := []string{"", ".", "..", ".hidden", "a/b", "a\\b", "../etc", "a b", "a%2fb", "é", string(make([]byte, 129))}
	for _, n := range good {
		if err := CheckStream(n); err != nil {
			t.Errorf("CheckStream(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := CheckStream(n); err == nil {
			t.Errorf("CheckStream(%q) = nil, want error", n)
		}
	}
}

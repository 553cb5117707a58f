package config

import (
	"strings"

	"github.com/edgedvr/edge/config/inputurl"
	"github.com/edgedvr/edge/config/names"
)

// Input schemes.
const (
	SchemeUDP  = inputurl.UDP
	SchemeFile = inputurl.File
	SchemeM4F  = inputurl.M4F
)

// Input is a parsed stream input or source URL (see package inputurl, the
// one parser that config/ and the ingest plugins share):
//
//	udp://[IPV4]:PORT[?iface=NAME&source=IPV4&program=N]
//	file://PATH[?program=N]
//	m4f://NODE_OR_HOST[:PORT]/STREAM[?remote_dvr=chain|nochain|none&key=KEY]
type Input struct {
	// Raw is the URL as written.
	Raw string
	inputurl.URL
}

// ParseInput parses a stream input URL: udp://, file:// or m4f://.
func ParseInput(raw string) (Input, error) {
	u, err := inputurl.Parse(raw)
	if err != nil {
		return Input{}, err
	}
	return Input{Raw: raw, URL: u}, nil
}

// ParseSourceURL parses a [[node.source]] url: m4f://NODE_OR_HOST[:PORT].
func ParseSourceURL(raw string) (Input, error) {
	u, err := inputurl.ParseSource(raw)
	if err != nil {
		return Input{}, err
	}
	return Input{Raw: raw, URL: u}, nil
}

// shownURL is an input URL as errors may quote it: without its query,
// which may hold a key.
func shownURL(raw string) string {
	base, _, _ := strings.Cut(raw, "?")
	return base
}

// CheckStreamName reports whether name is a valid stream name (package names).
func CheckStreamName(name string) error { return names.CheckStream(name) }

func validRemoteDVR(s string) bool { return inputurl.ValidRemoteDVR(s) }

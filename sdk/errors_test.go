package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/edgedvr/edge/media"
)

// TestErrorClassesCrossTheBoundary writes through a real plugin process
// and checks that the host sees which failures are permanent.
func TestErrorClassesCrossTheBoundary(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "dvrstore", Kind: KindDVRStore, Command: helperCommand("both")})
	st, err := s.Store(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := st.OpenStream(ctx, StreamConfig{Stream: "cam1", Root: "/a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteSegment(ctx, "cam1", media.Segment{Start: 10_000, Duration: 2000, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		seg       media.Segment
		stream    string
		permanent bool
		noSpace   bool
		msg       string
	}{
		{"zero duration", media.Segment{Start: 20_000, Duration: 0, Data: []byte("x")}, "cam1", true, false, "duration 0"},
		{"overlap", media.Segment{Start: 11_000, Duration: 2000, Data: []byte("x")}, "cam1", true, false, "before the end of the last one"},
		{"disk full", media.Segment{Start: noSpaceStart, Duration: 2000, Data: []byte("x")}, "cam1", false, true, "no space left on device"},
		{"stream not open", media.Segment{Start: 20_000, Duration: 2000, Data: []byte("x")}, "other", false, false, "stream other: not opened"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.WriteSegment(ctx, tt.stream, tt.seg)
			if err == nil {
				t.Fatal("write succeeded, want an error")
			}
			if IsPermanent(err) != tt.permanent || errors.Is(err, ErrRefused) != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, IsPermanent(err), tt.permanent)
			}
			if IsNoSpace(err) != tt.noSpace || errors.Is(err, ErrNoSpace) != tt.noSpace {
				t.Errorf("IsNoSpace(%v) = %v, want %v", err, IsNoSpace(err), tt.noSpace)
			}
			if errors.Is(err, ErrTooLarge) {
				t.Errorf("%v matches ErrTooLarge", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lost the plugin's message %q", err, tt.msg)
			}
		})
	}
}

// TestFromStatusCodes checks the host's reading of the codes a plugin
// written without this SDK may send.
func TestFromStatusCodes(t *testing.T) {
	noSpace, _ := fromStatus(context.Background(), "op", toStatus(fmt.Errorf("write: %w", syscall.EDQUOT)))
	tests := []struct {
		name      string
		err       error
		permanent bool
		noSpace   bool
		tooLarge  bool
	}{
		{"invalid argument", status.Error(codes.InvalidArgument, "bad"), true, false, false},
		{"failed precondition", status.Error(codes.FailedPrecondition, "bad"), true, false, false},
		{"already exists", status.Error(codes.AlreadyExists, "dup"), true, false, false},
		{"out of range", status.Error(codes.OutOfRange, "old"), true, false, false},
		{"resource exhausted without reason", status.Error(codes.ResourceExhausted, "big"), true, false, true},
		{"quota", noSpace, false, true, false},
		{"unknown", status.Error(codes.Unknown, "flaky"), false, false, false},
		{"internal", status.Error(codes.Internal, "flaky"), false, false, false},
		{"aborted", status.Error(codes.Aborted, "flaky"), false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err
			if _, ok := status.FromError(err); ok {
				err, _ = fromStatus(context.Background(), "op", err)
			}
			if IsPermanent(err) != tt.permanent || IsNoSpace(err) != tt.noSpace || errors.Is(err, ErrTooLarge) != tt.tooLarge {
				t.Fatalf("%v: permanent %v, no space %v, too large %v; want %v, %v, %v",
					err, IsPermanent(err), IsNoSpace(err), errors.Is(err, ErrTooLarge), tt.permanent, tt.noSpace, tt.tooLarge)
			}
		})
	}
}

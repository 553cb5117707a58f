package sdk

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors that cross the plugin boundary keep their identity: a plugin that
// returns an error wrapping ErrNotFound makes the host's errors.Is(err,
// ErrNotFound) true, and likewise for ErrTooLarge, ErrRefused, ErrNoSpace,
// context.Canceled and context.DeadlineExceeded. Other errors arrive as
// their message only.
var (
	// ErrTooLarge is returned for an init or media segment bigger than
	// MaxSegmentSize, on whichever side sees it first.
	ErrTooLarge = errors.New("segment too large")
	// ErrUnavailable is returned on the host side when the plugin process
	// is gone or not answering. The Supervisor restarts it; the caller gets
	// the new process's client from the Supervisor and tries again.
	ErrUnavailable = errors.New("plugin unavailable")
	// ErrVersionMismatch is returned when a plugin speaks another
	// ProtocolVersion than the host.
	ErrVersionMismatch = errors.New("plugin protocol version mismatch")
	// ErrRefused is wrapped by a store for a write it refuses for good: the
	// same call would fail again however often it is retried (a segment
	// with no duration, one that overlaps a stored segment, an init whose
	// hash does not match its bytes). The host drops such a segment, counts
	// it and records on. It travels as gRPC FailedPrecondition; a plugin
	// written without this SDK may also answer InvalidArgument,
	// AlreadyExists or OutOfRange.
	ErrRefused = errors.New("refused by the store")
	// ErrNoSpace is wrapped by a store whose disk (or quota) is full. It is
	// temporary: the host keeps the segment queued, retries with a backoff
	// and records on once space is freed. An error wrapping syscall.ENOSPC
	// or syscall.EDQUOT crosses the boundary as ErrNoSpace too. It travels
	// as gRPC ResourceExhausted with the ErrorInfo reason "NO_SPACE".
	ErrNoSpace = errors.New("no space left in the archive")
)

// IsPermanent reports whether err says that retrying the same call cannot
// succeed: it wraps ErrRefused or ErrTooLarge. Every other error, ErrNoSpace
// and ErrNotFound from a write included, is temporary.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrTooLarge)
}

// IsNoSpace reports whether err says the store ran out of space: it wraps
// ErrNoSpace, syscall.ENOSPC or syscall.EDQUOT.
func IsNoSpace(err error) bool {
	return errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// errorDomain and reasonNoSpace tell ErrNoSpace from ErrTooLarge, which
// share the code ResourceExhausted, in a status's ErrorInfo detail.
const (
	errorDomain   = "edgedvr.sdk"
	reasonNoSpace = "NO_SPACE"
)

// checkSize refuses data bigger than MaxSegmentSize.
func checkSize(what string, n int) error {
	if n > MaxSegmentSize {
		return fmt.Errorf("%s of %d bytes: %w (limit is sdk.MaxSegmentSize, %d bytes)", what, n, ErrTooLarge, MaxSegmentSize)
	}
	return nil
}

// toStatus turns a plugin implementation's error into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case IsNoSpace(err):
		st, derr := status.New(codes.ResourceExhausted, err.Error()).WithDetails(&errdetails.ErrorInfo{Reason: reasonNoSpace, Domain: errorDomain})
		if derr != nil {
			return status.Error(codes.ResourceExhausted, err.Error())
		}
		return st.Err()
	case errors.Is(err, ErrRefused):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrTooLarge):
		code = codes.ResourceExhausted
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, ErrUnsupported):
		code = codes.Unimplemented // an optional call a router cannot pass on
	}
	return status.Error(code, err.Error())
}

// remoteError is an error that came back from a plugin: its text, and the
// sentinel its status code maps to.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// fromStatus turns an error from a gRPC call into the host-side error for
// operation op, e.g. "store plugin: read init x". It reports whether the
// error means the plugin process may be gone. ctx is the caller's: a call
// canceled while ctx is not done was canceled by the connection closing.
func fromStatus(ctx context.Context, op string, err error) (error, bool) {
	if err == nil {
		return nil, false
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err), false
	}
	var kind error
	switch st.Code() {
	case codes.NotFound:
		kind = ErrNotFound
	case codes.ResourceExhausted:
		kind = ErrTooLarge
		if hasReason(st, reasonNoSpace) {
			kind = ErrNoSpace
		}
	case codes.FailedPrecondition, codes.InvalidArgument, codes.AlreadyExists, codes.OutOfRange:
		kind = ErrRefused
	case codes.Unavailable:
		return &remoteError{msg: fmt.Sprintf("%s: %v: %s", op, ErrUnavailable, st.Message()), kind: ErrUnavailable}, true
	case codes.Canceled:
		if ctx.Err() == nil {
			return &remoteError{msg: fmt.Sprintf("%s: %v: %s", op, ErrUnavailable, st.Message()), kind: ErrUnavailable}, true
		}
		kind = context.Canceled
	case codes.DeadlineExceeded:
		kind = context.DeadlineExceeded
	case codes.Unimplemented:
		return &remoteError{msg: fmt.Sprintf("%s: the plugin does not implement this call (%s)", op, st.Message()), kind: ErrUnsupported}, false
	}
	return &remoteError{msg: op + ": " + st.Message(), kind: kind}, false
}

// hasReason reports whether st carries an ErrorInfo of the SDK's domain
// with that reason.
func hasReason(st *status.Status, reason string) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain && info.GetReason() == reason {
			return true
		}
	}
	return false
}

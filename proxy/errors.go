package proxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgedvr/edge/sdk"
)

// httpError is an error with the HTTP status it answers.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error { return &httpError{status: 400, msg: msg} }
func notFound(msg string) error   { return &httpError{status: 404, msg: msg} }

// archiveError wraps an error from an Archive call with what failed.
func archiveError(what string, err error) error {
	return fmt.Errorf("archive %s: %w", what, err)
}

// statusOf maps a handler error to an HTTP status.
func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, sdk.ErrNotFound):
		return 404
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return 503
	}
	return 500
}

// Package safe turns a panic on one request, one peer's data or one job
// into an error that is counted (edge_panics_total by where), logged with
// its stack, and survived: the process goes on recording.
package safe

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// panics counts recovered panics by where they happened. It is one counter
// for the whole process: every place that recovers adds to it.
var panics = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "edge", Name: "panics_total",
	Help: "Panics recovered by where they happened (a request, a peer's data, a job); the process went on.",
}, []string{"where"})

// Register adds edge_panics_total to reg. Registering it again in the same
// registry is not an error.
func Register(reg prometheus.Registerer) error {
	if err := reg.Register(panics); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return nil
		}
		return fmt.Errorf("safe: register panics counter: %w", err)
	}
	return nil
}

// Counter is the count of panics recovered at where (for tests and
// status pages).
func Counter(where string) prometheus.Counter { return panics.WithLabelValues(where) }

// Recovered records r, a non-nil value returned by recover() in a deferred
// function, as a panic at where: it counts it, logs it with the stack of
// the panicking goroutine, and returns an error that says where it was.
// where is a fixed name (it is a metric label), such as "http" or
// "m4f_ingest".
func Recovered(log *slog.Logger, where string, r any) error {
	panics.WithLabelValues(where).Inc()
	if log == nil {
		log = slog.Default()
	}
	log.Error("panic recovered", "where", where, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return fmt.Errorf("panic in %s: %v", where, r)
}

// Call runs fn and returns its error, or the error of a panic in it
// (Recovered at where).
func Call(log *slog.Logger, where string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Recovered(log, where, r)
		}
	}()
	return fn()
}

// Go runs fn on a new goroutine. A panic in fn is Recovered at where
// instead of ending the process; onPanic, when not nil, then gets its error
// (to answer a waiter, for example).
func Go(log *slog.Logger, where string, fn func(), onPanic func(error)) {
	go func() {
		if err := Call(log, where, func() error { fn(); return nil }); err != nil && onPanic != nil {
			onPanic(err)
		}
	}()
}

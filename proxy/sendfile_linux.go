package proxy

import (
	"errors"
	"net"
	"os"
	"runtime"
	"syscall"
)

// sendFileAt sends n bytes of f from off to conn with sendfile(2) at an
// explicit offset (the file's shared offset is neither read nor moved):
// it corks the socket, runs flush (fasthttp's buffered response header),
// sends, and uncorks, so that the header and the first bytes of the file
// leave in full packets, as nginx's tcp_nopush does. handled is false, and
// nothing was sent, when conn is not a TCP socket of this process (TLS, a
// test pipe): the caller then copies.
func sendFileAt(conn net.Conn, f *os.File, off, n int64, flush func() error) (written int64, handled bool, err error) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return 0, false, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var src int
	if err := fc.Control(func(fd uintptr) { src = int(fd) }); err != nil {
		return 0, false, nil
	}
	cork := func(on int) {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, on)
		})
	}
	cork(1)
	defer cork(0)
	if err := flush(); err != nil {
		return 0, true, err
	}
	pos := off
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for written < n {
			k, e := syscall.Sendfile(int(fd), src, &pos, int(min(n-written, 1<<30)))
			if k > 0 {
				written += int64(k)
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return false // wait until the socket is writable
			case e != nil:
				serr = e
				return true
			case k == 0:
				serr = errors.New("segment file ended early")
				return true
			}
		}
		return true
	})
	// The body closes f after WriteTo; keep it reachable until the
	// descriptor is no longer used.
	runtime.KeepAlive(f)
	if serr != nil {
		return written, true, &os.SyscallError{Syscall: "sendfile", Err: serr}
	}
	return written, true, werr
}

package udp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// Socket reading parameters.
const (
	// batchSize is how many datagrams one recvmmsg may return.
	batchSize = 64
	// datagramSize is the read buffer per datagram: room for the usual
	// 7*188 = 1316 byte TS datagrams and anything up to a 1500 byte MTU
	// (plus RTP-less jumbo-ish senders up to 2 KiB). Longer ones are cut
	// and counted as Truncated.
	datagramSize = 2048
	// recvBuffer is the socket receive buffer we ask for.
	recvBuffer = 8 << 20
)

// socketReader reads datagrams in batches from one socket. Its buffers are
// allocated once.
type socketReader struct {
	conn   *net.UDPConn
	pc     *ipv4.PacketConn
	ms     []ipv4.Message
	source [4]byte // sender filter when filter is set
	filter bool
	c      *counters
}

// listen opens the socket of src: bound to the group (multicast) or the
// local address (unicast), with SO_REUSEADDR, a large receive buffer, and
// the group joined on src.Iface (source-specific when src.SourceIP is set).
func listen(ctx context.Context, src Source, c *counters, log *slog.Logger) (*socketReader, error) {
	var ifi *net.Interface
	if src.Iface != "" {
		var err error
		ifi, err = net.InterfaceByName(src.Iface)
		if err != nil {
			return nil, fmt.Errorf("udp: interface %q: %w", src.Iface, err)
		}
	}
	multicast := src.Multicast()
	lc := net.ListenConfig{Control: func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr != nil {
				serr = fmt.Errorf("set SO_REUSEADDR: %w", serr)
				return
			}
			if multicast {
				// Only datagrams of groups this socket joined, not of any
				// group some other socket on the host joined.
				_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipMulticastAll, 0)
			} else if src.Iface != "" {
				if serr = syscall.BindToDevice(int(fd), src.Iface); serr != nil {
					serr = fmt.Errorf("bind to device %s: %w", src.Iface, serr)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pconn, err := lc.ListenPacket(ctx, "udp4", src.Addr.String())
	if err != nil {
		return nil, fmt.Errorf("udp: listen %s: %w", src.Addr, err)
	}
	conn := pconn.(*net.UDPConn)
	r := &socketReader{conn: conn, pc: ipv4.NewPacketConn(conn), c: c}
	size := setRecvBuffer(conn)
	log.Info("udp: listening", "addr", src.Addr.String(), "iface", src.Iface, "recv_buffer", size)

	if multicast {
		group := &net.UDPAddr{IP: src.Addr.Addr().AsSlice()}
		if src.SourceIP.IsValid() {
			err = r.pc.JoinSourceSpecificGroup(ifi, group, &net.UDPAddr{IP: src.SourceIP.AsSlice()})
		} else {
			err = r.pc.JoinGroup(ifi, group)
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("udp: join %s on %q: %w", group.IP, src.Iface, err)
		}
	}
	if src.SourceIP.IsValid() {
		r.filter = true
		r.source = src.SourceIP.As4()
	}
	buf := make([]byte, batchSize*datagramSize)
	r.ms = make([]ipv4.Message, batchSize)
	for i := range r.ms {
		r.ms[i].Buffers = [][]byte{buf[i*datagramSize : (i+1)*datagramSize : (i+1)*datagramSize]}
	}
	return r, nil
}

// ipMulticastAll is IP_MULTICAST_ALL (Linux), missing from package syscall.
const ipMulticastAll = 49

// setRecvBuffer asks for recvBuffer bytes of receive buffer, beyond the
// rmem_max limit when we may (SO_RCVBUFFORCE needs CAP_NET_ADMIN), and
// returns the size the kernel reports.
func setRecvBuffer(conn *net.UDPConn) int {
	_ = conn.SetReadBuffer(recvBuffer)
	size := 0
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, recvBuffer)
			size, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		})
	}
	return size
}

// read waits until deadline for a batch of datagrams and calls fn with each
// one that passes the sender filter. It returns how many datagrams were
// passed to fn; a timeout is not an error (0, nil).
func (r *socketReader) read(deadline time.Time, fn func([]byte) error) (int, error) {
	if err := r.pc.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := r.pc.ReadBatch(r.ms, 0)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, err
	}
	var bytes uint64
	passed := 0
	for i := 0; i < n; i++ {
		m := &r.ms[i]
		bytes += uint64(m.N)
		if m.Flags&syscall.MSG_TRUNC != 0 {
			r.c.truncated.Add(1)
		}
		if r.filter && !r.fromSource(m.Addr) {
			r.c.foreign.Add(1)
			continue
		}
		passed++
		if err := fn(m.Buffers[0][:m.N]); err != nil {
			return passed, err
		}
	}
	r.c.datagrams.Add(uint64(n))
	r.c.bytes.Add(bytes)
	return passed, nil
}

func (r *socketReader) fromSource(a net.Addr) bool {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return false
	}
	ip := ua.IP.To4()
	return ip != nil && [4]byte(ip) == r.source
}

func (r *socketReader) close() error { return r.conn.Close() }

// captureUDP runs a udp:// capture until ctx is done or emit fails.
func captureUDP(ctx context.Context, src Source, s *sink) error {
	r, err := listen(ctx, src, s.c, s.log)
	if err != nil {
		return err
	}
	defer r.close()
	// Wake a blocked read at once when ctx is done.
	stop := context.AfterFunc(ctx, func() { _ = r.pc.SetReadDeadline(time.Now()) })
	defer stop()

	var now time.Time
	write := func(p []byte) error { return s.write(p, now) }
	var lastErrLog time.Time
	for ctx.Err() == nil {
		now = time.Now()
		n, err := r.read(now.Add(s.readWait()), write)
		now = time.Now()
		if err != nil {
			if s.err != nil {
				return s.err
			}
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("udp: read %s: %w", src.Addr, err)
			}
			// A transient socket error: log it now and then, wait a little.
			if now.Sub(lastErrLog) >= logEvery {
				s.log.Warn("udp: read failed", "err", err)
				lastErrLog = now
			}
			if !sleepCtx(ctx, 10*time.Millisecond) {
				break
			}
			continue
		}
		if n == 0 {
			if err := s.idle(now); err != nil {
				return err
			}
			continue
		}
		s.publish(now)
	}
	s.finish()
	return nil
}

// sleepCtx waits for d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

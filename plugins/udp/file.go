package udp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// File reading parameters.
const (
	tsPacket = 188
	// fileChunk is how much of the file is fed at a time: one datagram's worth.
	fileChunk = 7 * tsPacket
	// prescanLimit is how far into the file a clock (PCR or PTS) is looked for.
	prescanLimit = 4 << 20
	// clockHz is the rate of PCR bases, PTS and DTS.
	clockHz = 90000
	// maxClockStep is the largest forward step between two clock samples
	// taken as real time; a larger one (or any step back) is a discontinuity.
	maxClockStep = 5 * clockHz
	// defaultClockStep is the step assumed across a discontinuity when no
	// step has been seen yet: one frame at 25 fps.
	defaultClockStep = clockHz / 25
	// maxLag is how far the reader may fall behind the wall clock before it
	// gives up catching up (and would otherwise burst).
	maxLag = time.Second
)

// clock finds pacing timestamps in TS packets: the PCR of one PID, or when
// the file has no PCR, the DTS (or PTS) of one PES PID.
type clock struct {
	pid int
	pcr bool
}

// timestamp returns the clock sample carried by the TS packet p, if any, in
// 90 kHz units (33 bits).
func (c clock) timestamp(p []byte) (int64, bool) {
	if len(p) < tsPacket || p[0] != 0x47 {
		return 0, false
	}
	if int(p[1]&0x1f)<<8|int(p[2]) != c.pid {
		return 0, false
	}
	if c.pcr {
		return packetPCR(p)
	}
	return packetDTS(p)
}

// packetPCR returns the PCR base of a TS packet that carries one.
func packetPCR(p []byte) (int64, bool) {
	if p[3]&0x20 == 0 || p[4] < 7 || p[5]&0x10 == 0 {
		return 0, false
	}
	return int64(p[6])<<25 | int64(p[7])<<17 | int64(p[8])<<9 | int64(p[9])<<1 | int64(p[10])>>7, true
}

// packetDTS returns the DTS, or else the PTS, of a TS packet that starts a
// PES packet with one.
func packetDTS(p []byte) (int64, bool) {
	if p[1]&0x40 == 0 || p[3]&0x10 == 0 {
		return 0, false
	}
	off := 4
	if p[3]&0x20 != 0 {
		off += 1 + int(p[4])
	}
	if off+19 > len(p) {
		return 0, false
	}
	h := p[off:]
	if h[0] != 0 || h[1] != 0 || h[2] != 1 {
		return 0, false
	}
	switch h[3] { // stream_id without the optional PES header
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF:
		return 0, false
	}
	switch h[7] >> 6 {
	case 2:
		return pesTime(h[9:14]), true
	case 3:
		return pesTime(h[14:19]), true
	}
	return 0, false
}

func pesTime(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// syncAt reports whether a TS packet starts at buf[i]: a sync byte there and
// at the next packet, if buf holds it.
func syncAt(buf []byte, i int) bool {
	return buf[i] == 0x47 && (i+tsPacket >= len(buf) || buf[i+tsPacket] == 0x47)
}

// findClock picks the clock of a TS stream from its first bytes: the first
// PID that carries a PCR, else the first PID whose PES packets carry a PTS.
func findClock(r io.Reader) (clock, error) {
	buf, err := io.ReadAll(io.LimitReader(r, prescanLimit))
	if err != nil {
		return clock{}, err
	}
	ptsPID := -1
	for i := 0; i+tsPacket <= len(buf); {
		if !syncAt(buf, i) {
			i++
			continue
		}
		p := buf[i : i+tsPacket]
		pid := int(p[1]&0x1f)<<8 | int(p[2])
		if _, ok := packetPCR(p); ok {
			return clock{pid: pid, pcr: true}, nil
		}
		if _, ok := packetDTS(p); ok && ptsPID < 0 {
			ptsPID = pid
		}
		i += tsPacket
	}
	if ptsPID >= 0 {
		return clock{pid: ptsPID}, nil
	}
	if len(buf) == 0 {
		return clock{}, errors.New("file is empty")
	}
	return clock{}, fmt.Errorf("no PCR or PTS in the first %d bytes: not an MPEG-TS file with timestamps", len(buf))
}

// pacer maps clock samples to a stream position that keeps growing across
// discontinuities and file loops, and says when wall time reaches it.
type pacer struct {
	start    time.Time // wall time of stream position 0
	pos      int64     // stream position, 90 kHz
	prev     int64     // last clock sample
	havePrev bool
	step     int64 // last regular step between samples
}

// observe takes a clock sample and returns the stream position as a duration.
func (p *pacer) observe(ts int64) time.Duration {
	if p.havePrev {
		d := (ts - p.prev) & (1<<33 - 1) // modulo the 33-bit wrap
		if d >= 1<<32 {
			d -= 1 << 33 // a step back
		}
		switch {
		case d < 0 || d > maxClockStep:
			// Discontinuity (or the loop back to the file's start):
			// continue as if one regular step had passed.
			d = p.step
			if d == 0 {
				d = defaultClockStep
			}
		case d > 0:
			p.step = d
		}
		p.pos += d
	}
	p.prev, p.havePrev = ts, true
	return time.Duration(p.pos) * time.Second / clockHz
}

// captureFile runs a file:// capture: the file is looped forever, paced in
// real time by its clock, until ctx is done or emit fails.
func captureFile(ctx context.Context, src Source, s *sink) error {
	f, err := os.Open(src.Path)
	if err != nil {
		return fmt.Errorf("udp: open input file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return fmt.Errorf("udp: stat input file: %w", err)
	} else if st.IsDir() {
		return fmt.Errorf("udp: input file %s is a directory", src.Path)
	}
	clk, err := findClock(f)
	if err != nil {
		return fmt.Errorf("udp: input file %s: %w", src.Path, err)
	}
	s.log.Info("udp: playing file", "path", src.Path, "clock_pid", clk.pid, "pcr", clk.pcr)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("udp: rewind input file: %w", err)
	}

	br := bufio.NewReaderSize(f, 64<<10)
	buf := make([]byte, fileChunk)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	pc := pacer{start: time.Now()}
	loopBytes := 0
loop:
	for ctx.Err() == nil {
		n, err := io.ReadFull(br, buf)
		if n > 0 {
			loopBytes += n
			chunk := buf[:n]
			due, timed := time.Duration(0), false
			for i := 0; i+tsPacket <= len(chunk); {
				if !syncAt(chunk, i) {
					i++
					continue
				}
				if ts, ok := clk.timestamp(chunk[i : i+tsPacket]); ok {
					due, timed = pc.observe(ts), true
				}
				i += tsPacket
			}
			if timed {
				wait := time.Until(pc.start.Add(due))
				if wait < -maxLag {
					pc.start = time.Now().Add(-due) // fell behind: do not burst
				} else if wait > 0 {
					timer.Reset(wait)
					select {
					case <-ctx.Done():
						timer.Stop()
					case <-timer.C:
					}
					if ctx.Err() != nil {
						break loop
					}
				}
			}
			now := time.Now()
			s.c.bytes.Add(uint64(n))
			if err := s.write(chunk, now); err != nil {
				return err
			}
			s.publish(now)
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			if loopBytes == 0 {
				return fmt.Errorf("udp: input file %s is empty", src.Path)
			}
			loopBytes = 0
			s.c.loops.Add(1)
			s.seg.ExpectDiscontinuity() // the file starting over is not a CC error
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("udp: rewind input file: %w", err)
			}
			br.Reset(f)
		default:
			return fmt.Errorf("udp: read input file %s: %w", src.Path, err)
		}
	}
	s.finish()
	return nil
}

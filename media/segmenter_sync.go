// This file holds TS resync and continuity: packet sync, batching into the demuxer, continuity-counter checks and dispatch of what astits demuxed.

package media

import (
	"bytes"
	"errors"
	"io"

	"github.com/asticode/go-astits"
)

// errNeedMore is what the demuxer's reader answers when the buffered packets
// are used up; it stops astits without making it flush its partial PES.
var errNeedMore = errors.New("media: need more ts packets")

// packetReader hands whole, aligned TS packets to the astits demuxer.
type packetReader struct {
	buf []byte
	off int
	eof bool // answer io.EOF instead of errNeedMore: astits then flushes partial PES
}

func (r *packetReader) Read(p []byte) (int, error) {
	if r.off >= len(r.buf) {
		if r.eof {
			return 0, io.EOF
		}
		return 0, errNeedMore
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// syncPackets moves whole TS packets from s.in to the demuxer's buffer,
// skipping (and counting) bytes that are not on a packet boundary. Out of
// lock, a sync byte must be followed by two more at packet distance; in
// lock, by one when the data reaches that far.
func (s *Segmenter) syncPackets() {
	in := s.in
	i := 0
	for len(in)-i >= tsPacketSize {
		if in[i] != tsSync {
			s.locked = false
			j := bytes.IndexByte(in[i+1:], tsSync)
			if j < 0 {
				s.stats.GarbageBytes += uint64(len(in) - i)
				i = len(in)
				break
			}
			s.stats.GarbageBytes += uint64(j + 1)
			i += j + 1
			continue
		}
		next := i + tsPacketSize
		if s.locked {
			if next < len(in) && in[next] != tsSync {
				s.locked = false
				s.stats.GarbageBytes++
				i++
				continue
			}
		} else {
			if next+tsPacketSize >= len(in) {
				break // wait for more data to confirm sync
			}
			if in[next] != tsSync || in[next+tsPacketSize] != tsSync {
				s.stats.GarbageBytes++
				i++
				continue
			}
			s.locked = true
		}
		s.rd.buf = append(s.rd.buf, in[i:next]...)
		s.queued++
		i = next
	}
	s.in = in[:copy(in, in[i:])]
}

// ExpectDiscontinuity tells the segmenter that the bytes written next do
// not continue the ones before in the TS sense (a looped file starting
// over): continuity counters are not checked across that point, so it is
// not counted as an error. Timestamps are handled as always.
func (s *Segmenter) ExpectDiscontinuity() {
	s.ccResetAt = s.queued + uint64(len(s.in)/tsPacketSize)
}

// demux pulls everything astits can give from the buffered packets.
func (s *Segmenter) demux() {
	for {
		d, err := s.dmx.NextData()
		if err != nil {
			if errors.Is(err, errNeedMore) || errors.Is(err, astits.ErrNoMorePackets) {
				return
			}
			continue // a damaged PSI or PES: astits dropped it, go on
		}
		if d != nil {
			s.handle(d)
		}
	}
}

// skipPacket sees every TS packet once its header is parsed: it counts,
// checks continuity, and keeps only the PIDs the segmenter uses.
func (s *Segmenter) skipPacket(p *astits.Packet) bool {
	s.stats.Packets++
	if s.ccResetAt != 0 && s.stats.Packets > s.ccResetAt {
		s.cc = [8192]uint8{}
		s.ccResetAt = 0
	}
	h := &p.Header
	if h.TransportErrorIndicator || h.PID == astits.PIDNull {
		return true
	}
	pid := h.PID
	if p.AdaptationField != nil && p.AdaptationField.DiscontinuityIndicator {
		s.stats.CCErrors++
		s.cc[pid] = 0
	} else if h.HasPayload && s.cc[pid] != 0 {
		last := s.cc[pid] - 1
		if h.ContinuityCounter != (last+1)&15 && h.ContinuityCounter != last {
			s.stats.CCErrors++
		}
	}
	if h.HasPayload {
		s.cc[pid] = h.ContinuityCounter + 1
	}
	id := int(pid)
	return !(pid == astits.PIDPAT || id == s.pmtPID || id == s.videoPID || id == s.audioPID)
}

func (s *Segmenter) handle(d *astits.DemuxerData) {
	switch {
	case d.PAT != nil:
		s.onPAT(d.PAT)
	case d.PMT != nil:
		if int(d.PID) == s.pmtPID && int(d.PMT.ProgramNumber) == s.program {
			s.onPMT(d.PMT)
		}
	case d.PES != nil:
		// A PES whose first packet does not start a payload unit is the
		// tail of a frame damaged by packet loss: drop it.
		if d.FirstPacket == nil || !d.FirstPacket.Header.PayloadUnitStartIndicator {
			return
		}
		oh := d.PES.Header.OptionalHeader
		if oh == nil || oh.PTS == nil || len(d.PES.Data) == 0 {
			return
		}
		pts := oh.PTS.Base
		dts := pts
		if oh.DTS != nil {
			dts = oh.DTS.Base
		}
		switch int(d.PID) {
		case s.videoPID:
			s.onVideo(pts, dts, d.PES.Data)
		case s.audioPID:
			s.onAudio(pts, d.PES.Data)
		}
	}
}

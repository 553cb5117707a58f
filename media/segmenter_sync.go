// This file holds TS resync and continuity: packet sync, continuity-counter checks, and dispatch of each packet to astits (PAT, PMT) or to the PES layer (video, audio).

package media

import (
	"bytes"
	"errors"
	"io"

	"github.com/asticode/go-astits"
)

// errNeedMore is what the demuxer's reader answers when the buffered packets
// are used up; it stops astits without making it flush the PSI it holds.
var errNeedMore = errors.New("media: need more ts packets")

// packetReader hands whole, aligned PSI packets to the astits demuxer.
type packetReader struct {
	buf []byte
	off int
	eof bool // answer io.EOF instead of errNeedMore: astits then flushes the PSI it holds
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

// syncPackets takes whole TS packets from s.in, skipping (and counting)
// bytes that are not on a packet boundary. Out of lock, a sync byte must be
// followed by two more at packet distance; in lock, by one when the data
// reaches that far.
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
		s.queued++
		s.packet(in[i:next])
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

// packet takes one synced TS packet: it counts it, checks continuity, and
// hands PAT and PMT packets to astits, video and audio ones to the PES
// layer. Other PIDs, null packets and packets flagged with a transport
// error are dropped.
func (s *Segmenter) packet(p []byte) {
	h, ok := parseTSHeader(p)
	if !ok {
		return // astits refused such a packet before it was counted
	}
	s.stats.Packets++
	if s.ccResetAt != 0 && s.stats.Packets > s.ccResetAt {
		s.cc = [8192]uint8{}
		s.ccResetAt = 0
	}
	if h.tei || h.pid == int(astits.PIDNull) {
		return
	}
	pid := h.pid
	if h.disc {
		s.stats.CCErrors++
		s.cc[pid] = 0
	} else if h.hasPayload && s.cc[pid] != 0 {
		last := s.cc[pid] - 1
		if h.cc != (last+1)&15 && h.cc != last {
			s.stats.CCErrors++
		}
	}
	if h.hasPayload {
		s.cc[pid] = h.cc + 1
	}
	media := pid == s.videoPID || pid == s.audioPID
	switch {
	case pid == int(astits.PIDPAT) || pid == s.pmtPID || media && s.psiPID(pid):
		if s.psiRepeated(h, p) {
			return
		}
		s.rd.buf, s.rd.off = append(s.rd.buf[:0], p...), 0
		s.demux()
		s.rememberPSI(h, p)
	case media && h.hasPayload:
		s.pes.packet(h, p)
	}
}

// onPES hands a PES of the video or audio PID to its track. data aliases
// the PES layer's buffer: onVideo and onAudio copy what they keep.
func (s *Segmenter) onPES(pid int, pts, dts int64, data []byte) {
	switch pid {
	case s.videoPID:
		s.onVideo(pts, dts, data)
	case s.audioPID:
		s.onAudio(pts, data)
	}
}

// psiPID reports whether astits takes pid for PSI rather than PES, as it
// did when it demuxed the media PIDs too: the CAT, a PMT PID of any program
// a PAT listed, and the DVB tables' PIDs.
func (s *Segmenter) psiPID(pid int) bool {
	return pid == int(astits.PIDCAT) || s.pmtPIDs[pid/64]&(1<<(pid%64)) != 0 ||
		pid >= 0x10 && pid <= 0x14 || pid >= 0x1e && pid <= 0x1f
}

// demux pulls everything astits can give from the buffered PSI packet.
func (s *Segmenter) demux() {
	for {
		d, err := s.dmx.NextData()
		if err != nil {
			if errors.Is(err, errNeedMore) || errors.Is(err, astits.ErrNoMorePackets) {
				return
			}
			continue // a damaged PSI: astits dropped it, go on
		}
		if d != nil {
			s.handle(d)
		}
	}
}

func (s *Segmenter) handle(d *astits.DemuxerData) {
	switch {
	case d.PAT != nil:
		// astits takes every program's PMT PID for PSI from now on.
		for _, p := range d.PAT.Programs {
			if p.ProgramNumber > 0 {
				s.pmtPIDs[p.ProgramMapID/64] |= 1 << (p.ProgramMapID % 64)
			}
		}
		s.onPAT(d.PAT)
	case d.PMT != nil:
		if int(d.PID) == s.pmtPID && int(d.PMT.ProgramNumber) == s.program {
			s.onPMT(d.PMT)
		}
	}
}

// psiRepeat is the last packet fed to astits on the PAT or the PMT PID,
// kept when it held whole sections: astits then holds nothing of that PID,
// so the same packet again (a PAT or PMT repeated, as muxers send them
// every 100 ms or so) gives the same tables, and handling them again
// changes nothing. Such repeats are not parsed again.
type psiRepeat struct {
	valid bool
	pid   int
	pkt   [tsPacketSize]byte
}

// psiRepeated reports whether p repeats the packet remembered for its PID,
// but for the continuity counter.
func (s *Segmenter) psiRepeated(h tsHeader, p []byte) bool {
	r := &s.psiRep[min(h.pid, 1)]
	return r.valid && r.pid == h.pid && r.pkt[3]&0xf0 == p[3]&0xf0 &&
		bytes.Equal(r.pkt[:3], p[:3]) && bytes.Equal(r.pkt[4:], p[4:])
}

// rememberPSI remembers p, just fed to astits, when it holds whole
// sections of the PAT or of the program's PMT; otherwise it forgets what
// its PID had.
func (s *Segmenter) rememberPSI(h tsHeader, p []byte) {
	r := &s.psiRep[min(h.pid, 1)]
	if (h.pid != int(astits.PIDPAT) && h.pid != s.pmtPID) || !h.pusi || !wholeSection(p[h.payload:]) {
		r.valid = false
		return
	}
	r.valid, r.pid = true, h.pid
	copy(r.pkt[:], p)
}

// forgetPSI forgets the remembered packets: the program or its PMT PID
// changed, so a repeated PMT may now be handled differently.
func (s *Segmenter) forgetPSI() { s.psiRep = [2]psiRepeat{} }

// wholeSection reports whether a PSI payload (pointer field first) holds
// one section that ends inside it, followed by stuffing (0xff) or nothing:
// astits then takes the packet as complete and keeps nothing of it.
func wholeSection(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	off := 1 + int(b[0])
	if off+3 > len(b) {
		return false
	}
	end := off + 3 + (int(b[off+1]&0x0f)<<8 | int(b[off+2]))
	return end == len(b) || end < len(b) && b[end] == 0xff
}

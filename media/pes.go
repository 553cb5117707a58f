// This file holds the PES layer of the video and audio PIDs: TS packet headers, payload units gathered in reusable per-PID buffers, and PES headers, parsed without allocating.

package media

// The layer follows go-astits v1.13.0 (which demuxes PAT and PMT) packet
// for packet, so that what reaches onVideo and onAudio is what astits gave
// before: the same packets are dropped, the same payload units gathered,
// the same PES headers refused. FuzzPES checks this against astits.

// tsHeader is what the segmenter reads of a TS packet's header.
type tsHeader struct {
	pid        int
	cc         uint8
	pusi       bool // payload_unit_start_indicator
	tei        bool // transport_error_indicator
	hasPayload bool // adaptation_field_control says a payload follows
	disc       bool // the adaptation field's discontinuity_indicator
	payload    int  // offset of the payload; tsPacketSize when there is none
}

// parseTSHeader parses a 188-byte packet's header and adaptation field. It
// answers false for a packet whose adaptation field runs past the packet's
// end, which astits refuses whole (it is not counted either).
func parseTSHeader(p []byte) (h tsHeader, ok bool) {
	_ = p[tsPacketSize-1]
	h.tei = p[1]&0x80 != 0
	h.pusi = p[1]&0x40 != 0
	h.pid = int(p[1]&0x1f)<<8 | int(p[2])
	h.hasPayload = p[3]&0x10 != 0
	h.cc = p[3] & 0xf
	h.payload = 4
	if p[3]&0x20 != 0 {
		n := int(p[4])
		h.payload = min(5+n, tsPacketSize)
		if n > 0 {
			h.disc = p[5]&0x80 != 0
			if !adaptationFits(p) {
				return h, false
			}
		}
	}
	return h, true
}

// adaptationFits reports whether the optional fields that an adaptation
// field's flags announce lie inside the packet. Like astits, it reads them
// one after the other up to the packet's end, whatever the field's length
// says.
func adaptationFits(p []byte) bool {
	flags := p[5]
	off := 6
	take := func(n int) bool {
		off += n
		return off <= tsPacketSize
	}
	if flags&0x10 != 0 && !take(6) { // PCR
		return false
	}
	if flags&0x08 != 0 && !take(6) { // OPCR
		return false
	}
	if flags&0x04 != 0 && !take(1) { // splice countdown
		return false
	}
	if flags&0x02 != 0 { // transport private data
		if !take(1) {
			return false
		}
		if n := int(p[off-1]); n > 0 && !take(n) {
			return false
		}
	}
	if flags&0x01 != 0 { // adaptation field extension
		if !take(1) {
			return false
		}
		if p[off-1] == 0 {
			return true
		}
		if !take(1) {
			return false
		}
		ext := p[off-1]
		if ext&0x80 != 0 && !take(2) { // legal time window
			return false
		}
		if ext&0x40 != 0 && !take(3) { // piecewise rate
			return false
		}
		if ext&0x20 != 0 && !take(5) { // seamless splice: DTS of the next access unit
			return false
		}
	}
	return true
}

// pesLayer gathers the payload units of the PIDs it is given into PES
// packets and hands each one's timestamps and payload to emit.
type pesLayer struct {
	streams []pesStream
	// emit receives each PES with a PTS and a payload; data aliases a
	// reused buffer and is valid only until emit returns.
	emit func(pid int, pts, dts int64, data []byte)
}

// pesStream gathers the payload units of one PID. Its buffer is reused
// from one PES to the next.
type pesStream struct {
	pid    int
	active bool  // gathering a unit whose first packet started it (PUSI)
	cc     uint8 // continuity counter of the unit's last packet
	buf    []byte
}

// maxPESStreams is how many PIDs' states are kept before those that hold
// nothing are forgotten (a PMT that keeps changing PIDs).
const maxPESStreams = 4

// stream returns the gathering state of pid, made on first use.
func (l *pesLayer) stream(pid int) *pesStream {
	for i := range l.streams {
		if l.streams[i].pid == pid {
			return &l.streams[i]
		}
	}
	if len(l.streams) >= maxPESStreams {
		kept := l.streams[:0]
		for _, st := range l.streams {
			if st.active {
				kept = append(kept, st)
			}
		}
		clear(l.streams[len(kept):])
		l.streams = kept
	}
	l.streams = append(l.streams, pesStream{pid: pid})
	return &l.streams[len(l.streams)-1]
}

// packet takes one packet with a payload (h.hasPayload, no transport
// error). A packet that does not continue the unit being gathered (a
// continuity counter that skips, or the discontinuity indicator) drops
// that unit: it was damaged by loss, and so is the rest of it, which
// starts without PUSI and is dropped too. A PUSI ends the unit before it,
// which is handed on.
func (l *pesLayer) packet(h tsHeader, p []byte) {
	st := l.stream(h.pid)
	if h.disc || (st.active && h.cc != (st.cc+1)&15) {
		st.active = false
	}
	payload := p[h.payload:]
	switch {
	case h.pusi:
		if st.active {
			l.unit(st)
		}
		st.active = true
		st.buf = append(st.buf[:0], payload...)
	case st.active:
		st.buf = append(st.buf, payload...)
	}
	st.cc = h.cc
}

// flush hands on the units still being gathered, in PID order as astits
// does at the end of its input, and forgets every PID's state.
func (l *pesLayer) flush() {
	for {
		var next *pesStream
		for i := range l.streams {
			if st := &l.streams[i]; st.active && (next == nil || st.pid < next.pid) {
				next = st
			}
		}
		if next == nil {
			return
		}
		next.active = false
		l.unit(next)
	}
}

// unit parses a gathered unit and hands it on.
func (l *pesLayer) unit(st *pesStream) {
	if pts, dts, data, ok := parsePES(st.buf); ok {
		l.emit(st.pid, pts, dts, data)
	}
}

// parsePES parses a PES packet's header and returns its timestamps (DTS
// is the PTS when absent) and payload. It answers false where astits fails
// or gives a PES the segmenter drops: no PES start code, no optional
// header (padding, private stream 2), no PTS, optional fields that run past
// the data, a PES_packet_length that ends before the header or after the
// data, or an empty payload. A payload longer than PES_packet_length is
// cut to it.
func parsePES(b []byte) (pts, dts int64, data []byte, ok bool) {
	if len(b) < 9 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return 0, 0, nil, false
	}
	if sid := b[3]; sid == 0xbe || sid == 0xbf {
		return 0, 0, nil, false
	}
	end := len(b)
	if n := int(b[4])<<8 | int(b[5]); n > 0 {
		end = 6 + n
	}
	flags := b[7]
	start := 9 + int(b[8])
	ind := flags >> 6
	if ind != 2 && ind != 3 {
		return 0, 0, nil, false
	}
	off := 9
	take := func(n int) bool {
		off += n
		return off <= len(b)
	}
	if !take(5) {
		return 0, 0, nil, false
	}
	pts = pesTimestamp(b[off-5:])
	dts = pts
	if ind == 3 {
		if !take(5) {
			return 0, 0, nil, false
		}
		dts = pesTimestamp(b[off-5:])
	}
	for _, f := range [...]struct {
		bit byte
		n   int
	}{{0x20, 6}, {0x10, 3}, {0x08, 1}, {0x04, 1}, {0x02, 2}} { // ESCR, ES rate, trick mode, copy info, CRC
		if flags&f.bit != 0 && !take(f.n) {
			return 0, 0, nil, false
		}
	}
	if flags&0x01 != 0 { // PES extension
		if !take(1) {
			return 0, 0, nil, false
		}
		ext := b[off-1]
		for _, f := range [...]struct {
			bit byte
			n   int
		}{{0x80, 16}, {0x40, 1}, {0x20, 2}, {0x10, 2}} { // private data, pack header, sequence counter, P-STD buffer
			if ext&f.bit != 0 && !take(f.n) {
				return 0, 0, nil, false
			}
		}
		if ext&0x01 != 0 { // extension 2
			if !take(1) || !take(int(b[off-1]&0x7f)) {
				return 0, 0, nil, false
			}
		}
	}
	if end < start || end > len(b) || end == start {
		return 0, 0, nil, false
	}
	return pts, dts, b[start:end], true
}

// pesTimestamp decodes a 33-bit PTS or DTS; marker bits are not checked.
func pesTimestamp(b []byte) int64 {
	return int64(b[0]>>1&0x7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

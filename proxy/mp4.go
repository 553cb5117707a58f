package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/mp4"
)

// trackTimescales returns the timescale of each track of an init segment,
// by track ID.
func trackTimescales(init []byte) (map[uint32]uint32, error) {
	f, err := mp4.DecodeFile(bytes.NewReader(init))
	if err != nil {
		return nil, fmt.Errorf("decode init: %w", err)
	}
	if f.Init == nil || f.Init.Moov == nil {
		return nil, errors.New("decode init: no moov")
	}
	ts := make(map[uint32]uint32, len(f.Init.Moov.Traks))
	for _, t := range f.Init.Moov.Traks {
		if t.Tkhd == nil || t.Mdia == nil || t.Mdia.Mdhd == nil || t.Mdia.Mdhd.Timescale == 0 {
			return nil, errors.New("decode init: track without tkhd or mdhd")
		}
		ts[t.Tkhd.TrackID] = t.Mdia.Mdhd.Timescale
	}
	return ts, nil
}

// exportInit returns init with its movie duration set to durMs: mvhd
// duration and an mvex/mehd fragment duration, so that players and probes
// know the length of the whole file without reading every fragment.
func exportInit(init []byte, durMs int64) ([]byte, error) {
	f, err := mp4.DecodeFile(bytes.NewReader(init))
	if err != nil {
		return nil, fmt.Errorf("decode init: %w", err)
	}
	if f.Init == nil || f.Init.Moov == nil || f.Init.Moov.Mvhd == nil {
		return nil, errors.New("decode init: no moov/mvhd")
	}
	moov := f.Init.Moov
	scale := int64(moov.Mvhd.Timescale)
	if scale == 0 {
		scale = 1000
		moov.Mvhd.Timescale = 1000
	}
	d := durMs * scale / 1000
	moov.Mvhd.Duration = uint64(d)
	if d > 0xffffffff {
		moov.Mvhd.Version = 1
	}
	if moov.Mvex != nil {
		mehd := &mp4.MehdBox{FragmentDuration: d}
		if d > 0xffffffff {
			mehd.Version = 1
		}
		if moov.Mvex.Mehd == nil {
			moov.Mvex.Mehd = mehd
			moov.Mvex.Children = append([]mp4.Box{mehd}, moov.Mvex.Children...)
		} else {
			*moov.Mvex.Mehd = *mehd
		}
	}
	var buf bytes.Buffer
	if err := f.Init.Encode(&buf); err != nil {
		return nil, fmt.Errorf("encode init: %w", err)
	}
	return buf.Bytes(), nil
}

// box walks the boxes of b, calling fn with each box's type and body
// (payload after the header) and the offset of the body in b.
func walkBoxes(b []byte, fn func(typ string, body []byte, off int) error) error {
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return errors.New("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		hdr := 8
		switch size {
		case 0:
			size = uint64(len(b) - off)
		case 1:
			if len(b)-off < 16 {
				return errors.New("truncated large box header")
			}
			size = binary.BigEndian.Uint64(b[off+8:])
			hdr = 16
		}
		if size < uint64(hdr) || size > uint64(len(b)-off) {
			return fmt.Errorf("box %q size %d out of bounds", typ, size)
		}
		if err := fn(typ, b[off+hdr:off+int(size)], off+hdr); err != nil {
			return err
		}
		off += int(size)
	}
	return nil
}

// fragmentTimes calls fn with the track ID and base media decode time of
// every track fragment of a media segment (moof/traf/tfhd + tfdt), and lets
// fn return a new decode time to write in place (same box size). It
// modifies seg only when fn returns a different value.
func fragmentTimes(seg []byte, fn func(track uint32, t uint64) uint64) error {
	return walkBoxes(seg, func(typ string, moof []byte, _ int) error {
		if typ != "moof" {
			return nil
		}
		return walkBoxes(moof, func(typ string, traf []byte, _ int) error {
			if typ != "traf" {
				return nil
			}
			var track uint32
			haveTrack := false
			return walkBoxes(traf, func(typ string, body []byte, _ int) error {
				switch typ {
				case "tfhd":
					if len(body) < 8 {
						return errors.New("short tfhd")
					}
					track, haveTrack = binary.BigEndian.Uint32(body[4:]), true
				case "tfdt":
					if !haveTrack {
						return errors.New("tfdt before tfhd")
					}
					if len(body) < 8 {
						return errors.New("short tfdt")
					}
					if body[0] == 1 {
						if len(body) < 12 {
							return errors.New("short tfdt")
						}
						t := binary.BigEndian.Uint64(body[4:])
						if nt := fn(track, t); nt != t {
							binary.BigEndian.PutUint64(body[4:], nt)
						}
						return nil
					}
					t := uint64(binary.BigEndian.Uint32(body[4:]))
					if nt := fn(track, t); nt != t {
						if nt > 0xffffffff {
							return errors.New("tfdt v0 cannot hold the new time")
						}
						binary.BigEndian.PutUint32(body[4:], uint32(nt))
					}
				}
				return nil
			})
		})
	})
}

// timelineShift computes, from the first segment of an export, what to
// subtract from each track's decode times so that the earliest track starts
// at zero and the tracks keep their relative offsets.
func timelineShift(first []byte, scales map[uint32]uint32) (map[uint32]uint64, error) {
	minMs := int64(-1)
	err := fragmentTimes(first, func(track uint32, t uint64) uint64 {
		if sc, ok := scales[track]; ok && sc > 0 {
			ms := int64(t / uint64(sc) * 1000)
			ms += int64(t%uint64(sc)) * 1000 / int64(sc)
			if minMs < 0 || ms < minMs {
				minMs = ms
			}
		}
		return t
	})
	if err != nil {
		return nil, err
	}
	if minMs < 0 {
		return nil, errors.New("first segment has no track fragment")
	}
	shift := make(map[uint32]uint64, len(scales))
	for id, sc := range scales {
		shift[id] = uint64(minMs/1000)*uint64(sc) + uint64(minMs%1000)*uint64(sc)/1000
	}
	return shift, nil
}

// shiftSegment subtracts shift from every track fragment's decode time of
// seg, in place. Times smaller than the shift are left alone.
func shiftSegment(seg []byte, shift map[uint32]uint64) error {
	return fragmentTimes(seg, func(track uint32, t uint64) uint64 {
		if s, ok := shift[track]; ok && t >= s {
			return t - s
		}
		return t
	})
}

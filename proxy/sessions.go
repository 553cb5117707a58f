package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// sessionShards spreads the sessions over this many locks, so segment
// requests of different viewers never wait on each other.
const sessionShards = 64

// sessionIDLen is the length of a session id: 128 random bits in hex.
const sessionIDLen = 32

// session is one viewer session that the on_play backend allowed: found by
// its id (segment and init URLs carry it in their path) or by its key
// (protocol, stream, token and IP of the request that opened it).
type session struct {
	id, key, stream string
	idle            time.Duration // how long it lives unused
	lastUse         atomic.Int64  // UTC ns of the last request that used it
	// rewritten is the last playlist rewritten for this session: live
	// playlists are rendered once per segment and shared, so the
	// rewrite is reused until the next one.
	rewritten atomic.Pointer[rewrite]
}

// rewrite is a playlist body (src, kept so its memory is not reused) and
// its text with the session's URIs.
type rewrite struct{ src, out []byte }

func (se *session) alive(now int64) bool {
	return now-se.lastUse.Load() <= int64(se.idle)
}

// sessions holds the live viewer sessions of a server. Expired ones are
// dropped by sweep (the server runs it every sweepEvery) and are never
// returned before that.
type sessions struct {
	seed   maphash.Seed
	shards [sessionShards]sessionShard
	count  atomic.Int64
}

type sessionShard struct {
	mu    sync.RWMutex
	byID  map[string]*session
	byKey map[string]*session
}

func newSessions() *sessions {
	s := &sessions{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].byID = map[string]*session{}
		s.shards[i].byKey = map[string]*session{}
	}
	return s
}

func (s *sessions) shard(k string) *sessionShard {
	return &s.shards[maphash.String(s.seed, k)%sessionShards]
}

// byID returns the live session with that id and marks it used at now.
func (s *sessions) byID(id string, now int64) *session {
	sh := s.shard(id)
	sh.mu.RLock()
	se := sh.byID[id]
	sh.mu.RUnlock()
	if se == nil || !se.alive(now) {
		return nil
	}
	se.lastUse.Store(now)
	return se
}

// byKey returns the live session opened with that key and marks it used.
// It does not allocate.
func (s *sessions) byKey(key []byte, now int64) *session {
	sh := &s.shards[maphash.Bytes(s.seed, key)%sessionShards]
	sh.mu.RLock()
	se := sh.byKey[string(key)]
	sh.mu.RUnlock()
	if se == nil || !se.alive(now) {
		return nil
	}
	se.lastUse.Store(now)
	return se
}

// add stores se (id, key, stream and idle set), used at now. A session
// that held the same key before is replaced.
func (s *sessions) add(se *session, now int64) {
	se.lastUse.Store(now)
	kh, ih := s.shard(se.key), s.shard(se.id)
	kh.mu.Lock()
	old := kh.byKey[se.key]
	kh.byKey[se.key] = se
	kh.mu.Unlock()
	if old != nil {
		s.removeID(old.id)
	}
	ih.mu.Lock()
	ih.byID[se.id] = se
	ih.mu.Unlock()
	s.count.Add(1)
}

func (s *sessions) removeID(id string) {
	sh := s.shard(id)
	sh.mu.Lock()
	if _, ok := sh.byID[id]; ok {
		delete(sh.byID, id)
		s.count.Add(-1)
	}
	sh.mu.Unlock()
}

// sweep drops the sessions unused for longer than their idle time.
func (s *sessions) sweep(now int64) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, se := range sh.byKey {
			if !se.alive(now) {
				delete(sh.byKey, k)
			}
		}
		for id, se := range sh.byID {
			if !se.alive(now) {
				delete(sh.byID, id)
				s.count.Add(-1)
			}
		}
		sh.mu.Unlock()
	}
}

// newSessionID returns 128 bits from crypto/rand in hex: ids cannot be
// guessed, so one viewer's segment URLs do not open another's session.
func newSessionID() string {
	var b [sessionIDLen / 2]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// isSessionID reports whether s has the form of a session id.
func isSessionID(s string) bool {
	if len(s) != sessionIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

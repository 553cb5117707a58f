package cache

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Key names a segment in the memory cache.
type Key struct {
	Stream string
	Start  int64 // UTC ms
	Format Format
}

// Format is the form of a cached segment's bytes.
type Format uint8

const (
	// FMP4 is the segment as stored: moof+mdat.
	FMP4 Format = iota
	// MPEGTS is the segment remuxed into a standalone MPEG-TS segment.
	MPEGTS
)

// Memory is an LRU of segment bytes bounded by a byte budget. The budget is
// strict: after every Add the bytes held are at most the budget. It is safe
// for concurrent use.
type Memory struct {
	budget int64
	mu     sync.Mutex
	lru    *simplelru.LRU[Key, []byte]
	bytes  int64 // guarded by mu

	hits, misses, evictions atomic.Uint64
	bytesGauge, entries     atomic.Int64
}

// NewMemory returns an empty cache that holds at most budget bytes of
// segment data (budget <= 0 caches nothing).
func NewMemory(budget int64) *Memory {
	// The entry count is not a limit: the byte budget is.
	l, err := simplelru.NewLRU[Key, []byte](math.MaxInt32, nil)
	if err != nil {
		panic("cache: " + err.Error()) // only for a size <= 0
	}
	return &Memory{budget: budget, lru: l}
}

// Budget is the byte budget.
func (m *Memory) Budget() int64 { return m.budget }

// Get returns the bytes of a segment and marks it recently used. The
// returned slice is shared: callers must not modify it.
func (m *Memory) Get(k Key) ([]byte, bool) {
	m.mu.Lock()
	b, ok := m.lru.Get(k)
	m.mu.Unlock()
	if ok {
		m.hits.Add(1)
	} else {
		m.misses.Add(1)
	}
	return b, ok
}

// Add stores the bytes of a segment, evicting the least recently used ones
// until the cache is within its budget. Data larger than the whole budget is
// not stored. The cache keeps data: callers must not modify it afterwards.
func (m *Memory) Add(k Key, data []byte) {
	size := int64(len(data))
	if size > m.budget {
		return
	}
	m.mu.Lock()
	if old, ok := m.lru.Peek(k); ok {
		m.bytes -= int64(len(old))
	}
	m.lru.Add(k, data)
	m.bytes += size
	var evicted uint64
	for m.bytes > m.budget {
		_, v, ok := m.lru.RemoveOldest()
		if !ok {
			break
		}
		m.bytes -= int64(len(v))
		evicted++
	}
	m.bytesGauge.Store(m.bytes)
	m.entries.Store(int64(m.lru.Len()))
	m.mu.Unlock()
	m.evictions.Add(evicted)
}

// Stats is a snapshot of the counters of a Memory.
type Stats struct {
	Hits, Misses, Evictions uint64
	Bytes, Entries, Budget  int64
}

// Stats returns the counters so far.
func (m *Memory) Stats() Stats {
	return Stats{
		Hits:      m.hits.Load(),
		Misses:    m.misses.Load(),
		Evictions: m.evictions.Load(),
		Bytes:     m.bytesGauge.Load(),
		Entries:   m.entries.Load(),
		Budget:    m.budget,
	}
}

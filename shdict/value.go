package shdict

import "errors"

// Kind tells which field of a Value is meaningful. The numbering follows
// nothing external; it only has to stay stable inside one process.
type Kind uint8

// The kinds a stored item can have. KindList is never handed out by Get: list
// items are reached through the list methods, and Get reports ErrIsList.
const (
	KindString  Kind = 1
	KindNumber  Kind = 2
	KindBoolean Kind = 3
	KindList    Kind = 4 // only ever seen inside the store; Get on a list returns ErrIsList
)

// String returns the Lua type name of the kind, which is what error messages
// and debugging output want to show.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBoolean:
		return "boolean"
	case KindList:
		return "list"
	}
	return "invalid"
}

// Value is a stored scalar. Only the field selected by Kind is meaningful, so
// a Value can be passed around by value without boxing it in an interface.
type Value struct {
	Kind Kind
	Str  string  // KindString
	Num  float64 // KindNumber
	Bool bool    // KindBoolean
}

// String makes a string Value; s may hold arbitrary bytes.
func String(s string) Value { return Value{Kind: KindString, Str: s} }

// Number makes a number Value. Lua numbers are doubles, so this is the only
// numeric type the store knows.
func Number(f float64) Value { return Value{Kind: KindNumber, Num: f} }

// Bool makes a boolean Value. false is a real value, distinct from a miss.
func Bool(b bool) Value { return Value{Kind: KindBoolean, Bool: b} }

// Item is what reads return: the value plus the metadata that OpenResty and
// memcached hand back with it.
type Item struct {
	Value
	Flags     uint32
	CAS       uint64 // changes on every modification of the item
	ExpiresAt int64  // unix milliseconds; 0 = never
	// Marks are the entry's marks as they were before the call that
	// returned the item: a read reports whether the entry had been read
	// before, which is what memcached's mg h flag asks.
	Marks Marks
}

// Marks are per-entry bits that memcached keeps on its items and its meta
// protocol reports and changes (mg h, N, R, md I, ms I): whether a read
// has fetched the entry since its value was stored, whether a recache
// token was handed out for it, and whether it was marked stale. Every new
// value starts with none; the operations that set or keep them say so.
// Snapshots do not keep them: a restored entry starts unmarked.
type Marks uint8

// The marks.
const (
	// MarkFetched: a read (Get, GetStale, GetAndTouch, Touch, Fetch without
	// NoBump) has returned or touched the entry since its value was stored.
	MarkFetched Marks = 1 << iota
	// MarkToken: a Fetch handed out the entry's recache token (memcached's
	// W); later fetches see it (Z) until Invalidate or a new value clears it.
	MarkToken
	// MarkStale: Invalidate, or a StoreCASStale store with an older cas,
	// marked the value stale (memcached's X); a fetch of a stale entry wins
	// the token if nobody holds it.
	MarkStale
)

// Sentinel errors. The message is OpenResty's exact text, because the Lua
// binding hands it to scripts verbatim; that is also why these carry no
// package prefix.
var (
	ErrEmptyKey   = errors.New("empty key")
	ErrKeyTooLong = errors.New("key too long") // > 65535 bytes
	ErrNoMemory   = errors.New("no memory")
	ErrExists     = errors.New("exists")
	ErrNotFound   = errors.New("not found")
	ErrNotNumber  = errors.New("not a number")
	ErrNotList    = errors.New("value not a list")
	ErrIsList     = errors.New("value is a list")
	ErrNotString  = errors.New("not a string") // append/prepend/IncrDecimal on a number/boolean/list value
	// ErrBadValue rejects a Value whose Kind cannot be stored by the method
	// (a zero Value, KindList given to Set, a boolean given to LPush).
	ErrBadValue = errors.New("bad value type")
	// ErrCapacity rejects a capacity below MinCapacity; New wraps it with the
	// figures so the operator sees the minimum.
	ErrCapacity = errors.New("shdict: capacity too small")
	// ErrBadOptions rejects Options that cannot work, such as a negative
	// shard count.
	ErrBadOptions = errors.New("shdict: bad options")
	// ErrBadMode rejects a StoreMode that is none of the four.
	ErrBadMode = errors.New("shdict: bad store mode")
)

// MaxKeyLen is the longest key OpenResty accepts; longer keys get
// ErrKeyTooLong.
const MaxKeyLen = 65535

// checkKey applies OpenResty's key rules, shared by every key-taking method.
func checkKey(key string) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > MaxKeyLen {
		return ErrKeyTooLong
	}
	return nil
}

// encodedLen is the number of bytes v occupies after the key in an entry's
// buffer, or -1 when v cannot be stored as a scalar.
func encodedLen(v Value) int {
	switch v.Kind {
	case KindString:
		return len(v.Str)
	case KindNumber:
		return 8
	case KindBoolean:
		return 1
	}
	return -1
}

package shdict

import "unsafe"

// Byte accounting. The store charges every entry what it really costs the Go
// heap, so that a dictionary's capacity bounds the process's memory:
//
//	ItemOverhead + roundSize(len(key) + len(encoded value))
//
// ItemOverhead covers the entry's slot (64 bytes) and its share of the
// shard's hash index (8-byte entries at 37.5 to 75 % load: 11 to 21 bytes;
// 32 is charged, what the Go map it replaced cost in the middle of its
// range, which keeps every capacity and test figure unchanged). The buffer
// holding key and value is charged at the size the allocator really hands
// out, which is what roundSize computes.
const (
	slotBytes = int64(unsafe.Sizeof(slot{}))
	// ItemOverhead is the per-entry cost, in bytes, charged on top of the
	// entry's key and value buffer.
	ItemOverhead = slotBytes + 32
	// listHeaderBytes is charged once per list entry for its deque header.
	listHeaderBytes = 48
	// listElemBytes is charged per list element (the element struct); a
	// string element adds its rounded length.
	listElemBytes = int64(unsafe.Sizeof(listElem{}))
)

// sizeClasses are the Go allocator's small-object size classes (Go 1.26,
// internal/runtime/gc). If a later Go release moves them, the accounting
// drifts by a few bytes per entry but stays self-consistent, because every
// buffer is allocated with exactly the capacity roundSize returns. Read-only.
var sizeClasses = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// roundSize returns the number of bytes the allocator really reserves for a
// pointer-free allocation of n bytes: the next size class up to 32 KiB, whole
// 8 KiB pages above that.
func roundSize(n int) int {
	if n <= 0 {
		return 0
	}
	if n > 32768 {
		const page = 8192
		return (n + page - 1) &^ (page - 1)
	}
	// Binary search over the classes; at most 7 probes.
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if int(sizeClasses[mid]) < n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int(sizeClasses[lo])
}

// newBuf allocates an entry buffer of length n whose capacity is exactly what
// the allocator reserves, so cap(buf) is both usable slack and the accounted
// size.
func newBuf(n int) []byte {
	return make([]byte, n, roundSize(n))
}

// entryCost is the accounted cost of an entry whose buffer has capacity c.
func entryCost(c int) int64 { return ItemOverhead + int64(c) }

// elemCost is the accounted cost of one list element.
func elemCost(v Value) int64 {
	if v.Kind == KindString {
		return listElemBytes + int64(roundSize(len(v.Str)))
	}
	return listElemBytes
}

package shdict

import "strings"

// listElem is one element of a list value. Lists hold strings and numbers
// only, as in OpenResty.
type listElem struct {
	str  string
	num  float64
	kind Kind
}

// list is a ring-buffer deque. Lists are rare next to scalars, so they live in
// a side table of their shard instead of widening every slot.
type list struct {
	elems []listElem
	head  int   // index of the first element
	n     int   // number of elements
	bytes int64 // accounted bytes: header plus elements
}

func newList() *list { return &list{bytes: listHeaderBytes} }

// grow doubles the ring, unrolling it so head becomes 0.
func (l *list) grow() {
	c := 2 * len(l.elems)
	if c == 0 {
		c = 4
	}
	e := make([]listElem, c)
	for i := 0; i < l.n; i++ {
		e[i] = l.elems[(l.head+i)%len(l.elems)]
	}
	l.elems, l.head = e, 0
}

func toElem(v Value) listElem {
	if v.Kind == KindString {
		// Clone so that a value cut from a large network buffer does not pin
		// that buffer for as long as the list lives.
		return listElem{kind: KindString, str: strings.Clone(v.Str)}
	}
	return listElem{kind: KindNumber, num: v.Num}
}

func (e listElem) value() Value {
	if e.kind == KindString {
		return String(e.str)
	}
	return Number(e.num)
}

func (l *list) pushFront(v Value) {
	if l.n == len(l.elems) {
		l.grow()
	}
	l.head = (l.head - 1 + len(l.elems)) % len(l.elems)
	l.elems[l.head] = toElem(v)
	l.n++
}

func (l *list) pushBack(v Value) {
	if l.n == len(l.elems) {
		l.grow()
	}
	l.elems[(l.head+l.n)%len(l.elems)] = toElem(v)
	l.n++
}

func (l *list) popFront() Value {
	e := l.elems[l.head]
	l.elems[l.head] = listElem{}
	l.head = (l.head + 1) % len(l.elems)
	l.n--
	return e.value()
}

func (l *list) popBack() Value {
	i := (l.head + l.n - 1) % len(l.elems)
	e := l.elems[i]
	l.elems[i] = listElem{}
	l.n--
	return e.value()
}

// values copies the elements front to back.
func (l *list) values() []Value {
	out := make([]Value, l.n)
	for i := range out {
		out[i] = l.elems[(l.head+i)%len(l.elems)].value()
	}
	return out
}

//go:build !linux

package luaenv

import "syscall"

// Elsewhere than Linux there is no read poller: every read tries first
// and waits on Go's netpoller when it finds nothing (poller_linux.go).

type poller struct{}

type pollReg struct {
	p   *poller
	tok chan struct{}
}

func readPoller() *poller                              { return nil }
func (p *poller) register(rc syscall.RawConn) *pollReg { return nil }
func (p *poller) release(r *pollReg)                   {}
func (r *pollReg) mayWait() bool                       { return false }
func (r *pollReg) arm(d mono)                          {}

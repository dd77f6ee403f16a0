package luaenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// DefaultRejectReply is what a client over the connection cap reads before
// the connection is closed; it is memcached's answer in the same situation.
const DefaultRejectReply = "ERROR Too many open connections\r\n"

// Server is one listener whose connections each run the same Lua entry,
// like a stream { server { listen …; content_by_lua… } } block. Every
// connection gets its own goroutine and a pooled LState from the Env.
type Server struct {
	// Env supplies the Lua states and dictionaries.
	Env *Env
	// Addr is the listen address (host:port).
	Addr string
	// Entry is the per-connection handler.
	Entry Entry
	// MaxConns caps concurrent connections (1024); over the cap a client
	// reads RejectReply and is closed.
	MaxConns int
	// RejectReply defaults to DefaultRejectReply; set it to "" explicitly
	// through NoRejectReply to close silently.
	RejectReply   string
	NoRejectReply bool
	// TLS, when set, wraps every accepted connection.
	TLS *tls.Config

	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	active int
	closed bool
}

// Listen binds the address, so that "address already in use" is reported
// before anything starts serving.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// ListenAddr is the bound address (useful with port 0 in tests).
func (s *Server) ListenAddr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until Shutdown. It calls Listen if needed.
func (s *Server) Serve() error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	if s.MaxConns <= 0 {
		s.MaxConns = 1024
	}
	if s.RejectReply == "" && !s.NoRejectReply {
		s.RejectReply = DefaultRejectReply
	}
	s.mu.Lock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	s.conns = make(map[net.Conn]struct{})
	s.mu.Unlock()
	log := s.Env.Logger()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait and retry
				// rather than spin or exit.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed; retrying", "server", s.Addr, "error", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept on %s: %w", s.Addr, err)
		}
		backoff = 0
		if !s.admit(c) {
			continue
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// admit enforces the connection cap and registers the connection.
func (s *Server) admit(c net.Conn) bool {
	info := s.Env.cfg.Info
	s.mu.Lock()
	if s.active >= s.MaxConns || s.closed {
		s.mu.Unlock()
		info.conns.rejected.Add(1)
		if s.RejectReply != "" {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte(s.RejectReply))
		}
		c.Close()
		return false
	}
	s.active++
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	info.conns.curr.Add(1)
	info.conns.total.Add(1)
	return true
}

func (s *Server) serveConn(c net.Conn) {
	log := s.Env.Logger()
	remote := c.RemoteAddr().String()
	defer func() {
		if r := recover(); r != nil {
			log.Error("handler panic; connection closed", "server", s.Addr, "client", remote, "panic", r, "stack", string(debug.Stack()))
			c.Close()
		}
		s.mu.Lock()
		delete(s.conns, c)
		s.active--
		s.mu.Unlock()
		s.Env.cfg.Info.conns.curr.Add(-1)
		s.wg.Done()
	}()
	if s.TLS != nil {
		tc := tls.Server(c, s.TLS)
		tc.SetDeadline(time.Now().Add(s.Env.cfg.Socket.ReadTimeout))
		if err := tc.Handshake(); err != nil {
			log.Info("tls handshake failed", "server", s.Addr, "client", remote, "error", err)
			c.Close()
			return
		}
		tc.SetDeadline(time.Time{})
		c = tc
	}
	// Shutdown unblocks a reader by moving its deadline to now; the socket
	// then reports "closed" to the script.
	stop := context.AfterFunc(s.ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	s.Env.Handle(s.ctx, c, s.Entry, s.Addr)
}

// Shutdown stops accepting, asks handlers to finish (their sockets report
// "closed"), waits until ctx is done, then force-closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
	s.Env.Logger().Warn("grace period over; closed remaining connections", "server", s.Addr, "connections", n)
	return ctx.Err()
}

// Active reports the number of open connections.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

package luaenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/streamlua/streamlua/luaenv/ljcompat"
)

// BundledPrefix marks package-path templates served from the binary's
// embedded script tree rather than from disk. The default package path (what
// ";;" expands to) consists of such templates.
const BundledPrefix = "@bundled/"

// DefaultPackagePath is what ";;" in a package path expands to: the bundled
// scripts, searched like an OpenResty lualib directory.
const DefaultPackagePath = BundledPrefix + "?.lua;" + BundledPrefix + "?/init.lua"

// Scripts is one generation of compiled Lua code. Every chunk is compiled
// once to a FunctionProto, which is read-only and therefore shared by all
// LStates; a reload builds a new Scripts and swaps it in, so connections
// that started on the old generation finish on it.
type Scripts struct {
	path    string // package.path with ";;" expanded
	bundled fs.FS

	mu     sync.Mutex
	protos map[string]*lua.FunctionProto // by file name (bundled files keep their @bundled/ prefix)
	mtimes map[string]int64              // disk files only, for --watch
}

// NewScripts prepares a generation for the given package path; bundled may
// be nil when no scripts are embedded.
func NewScripts(packagePath string, bundled fs.FS) *Scripts {
	return &Scripts{
		path:    ExpandPackagePath(packagePath),
		bundled: bundled,
		protos:  make(map[string]*lua.FunctionProto),
		mtimes:  make(map[string]int64),
	}
}

// ExpandPackagePath splices the default path into ";;" the way
// lua_package_path does, and uses the default path alone when p is empty.
func ExpandPackagePath(p string) string {
	if p == "" {
		return DefaultPackagePath
	}
	if strings.Contains(p, ";;") {
		p = strings.Replace(p, ";;", ";"+DefaultPackagePath+";", 1)
	}
	return strings.Trim(p, ";")
}

// Path returns the expanded package path that require searches.
func (s *Scripts) Path() string { return s.path }

// SyntaxError is a script that failed to compile, reported as file:line.
type SyntaxError struct {
	File    string
	Line    int
	Message string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Message)
}

var (
	parseErrRe   = regexp.MustCompile(`^.* line:(\d+)\(column:\d+\) near '(.*)':\s+(.*?)\s*$`)
	parseEOFRe   = regexp.MustCompile(`^.* at EOF:\s+(.*?)\s*$`)
	compileErrRe = regexp.MustCompile(`^compile error near line\((\d+)\) [^:]*: (.*)$`)
)

// newSyntaxError turns gopher-lua's parse and compile errors into the
// file:line: message form that editors and `streamlua check` users expect.
func newSyntaxError(file string, err error) *SyntaxError {
	msg := strings.TrimSpace(err.Error())
	if m := parseErrRe.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &SyntaxError{File: file, Line: line, Message: fmt.Sprintf("%s near '%s'", m[3], m[2])}
	}
	if m := parseEOFRe.FindStringSubmatch(msg); m != nil {
		return &SyntaxError{File: file, Message: m[1] + " at EOF"}
	}
	if m := compileErrRe.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &SyntaxError{File: file, Line: line, Message: m[2]}
	}
	return &SyntaxError{File: file, Message: msg}
}

// Compile compiles Lua source into a shareable proto; chunkName is what
// error messages and tracebacks show as the file. LuaJIT's string escapes
// (\xNN, \u{...}, \z), which gopher-lua's lexer would silently misread,
// are rewritten first.
func Compile(src, chunkName string) (*lua.FunctionProto, error) {
	src, err := ljcompat.TranslateSource(src)
	if err != nil {
		return nil, &SyntaxError{File: chunkName, Message: err.Error()}
	}
	chunk, err := parse.Parse(strings.NewReader(src), chunkName)
	if err != nil {
		return nil, newSyntaxError(chunkName, err)
	}
	proto, err := lua.Compile(chunk, chunkName)
	if err != nil {
		return nil, newSyntaxError(chunkName, err)
	}
	return proto, nil
}

// readFile reads a disk or bundled file by its package-path name.
func (s *Scripts) readFile(name string) ([]byte, int64, error) {
	if rest, ok := strings.CutPrefix(name, BundledPrefix); ok {
		if s.bundled == nil {
			return nil, 0, fs.ErrNotExist
		}
		b, err := fs.ReadFile(s.bundled, rest)
		return b, 0, err
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil, 0, err
	}
	if st.IsDir() {
		return nil, 0, fmt.Errorf("%s: is a directory", name)
	}
	b, err := os.ReadFile(name)
	return b, st.ModTime().UnixNano(), err
}

// File returns the compiled proto for a file (disk path or @bundled/ name),
// compiling it on first use. Compilation happens once per generation.
func (s *Scripts) File(name string) (*lua.FunctionProto, error) {
	s.mu.Lock()
	p := s.protos[name]
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	src, mtime, err := s.readFile(name)
	if err != nil {
		return nil, err
	}
	p, err = Compile(string(src), name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if old := s.protos[name]; old != nil {
		p = old
	} else {
		s.protos[name] = p
		if mtime != 0 {
			s.mtimes[name] = mtime
		}
	}
	s.mu.Unlock()
	return p, nil
}

// errNoModule says a module is absent from every path entry; the message
// lists the places tried, as Lua's require does.
var errNoModule = errors.New("module not found")

// Find resolves a module name against a package path (the one Lua code
// currently has in package.path) and returns the file and its proto.
func (s *Scripts) Find(path, module string) (string, *lua.FunctionProto, error) {
	rel := strings.ReplaceAll(module, ".", "/")
	var tried []string
	for _, tmpl := range strings.Split(path, ";") {
		if tmpl == "" {
			continue
		}
		name := strings.ReplaceAll(tmpl, "?", rel)
		p, err := s.File(name)
		if err == nil {
			return name, p, nil
		}
		var se *SyntaxError
		if errors.As(err, &se) {
			return name, nil, err
		}
		tried = append(tried, "no file '"+name+"'")
	}
	return "", nil, fmt.Errorf("%w: %s", errNoModule, strings.Join(tried, "\n\t"))
}

// Files lists the files compiled so far in this generation; a reload
// recompiles exactly these so that a broken edit is caught before the swap.
func (s *Scripts) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.protos))
	for n := range s.protos {
		out = append(out, n)
	}
	return out
}

// Changed reports whether a disk file compiled in this generation has been
// modified or removed since; --watch polls it.
func (s *Scripts) Changed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, mt := range s.mtimes {
		st, err := os.Stat(name)
		if err != nil || st.ModTime().UnixNano() != mt {
			return true
		}
	}
	return false
}

// PathFiles lists every .lua file reachable through the package path's
// disk directories (for `streamlua check`). Bundled files are included.
func (s *Scripts) PathFiles() []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, tmpl := range strings.Split(s.path, ";") {
		i := strings.Index(tmpl, "?")
		if i < 0 || !strings.HasSuffix(tmpl, ".lua") {
			continue
		}
		dir := tmpl[:i]
		if rest, ok := strings.CutPrefix(dir, BundledPrefix); ok {
			if s.bundled == nil {
				continue
			}
			root := strings.TrimSuffix(rest, "/")
			if root == "" {
				root = "."
			}
			fs.WalkDir(s.bundled, root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lua") {
					add(BundledPrefix + p)
				}
				return nil
			})
			continue
		}
		root := dir
		if root == "" {
			root = "."
		}
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			continue
		}
		fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lua") {
				add(strings.TrimPrefix(dir+p, "./"))
			}
			return nil
		})
	}
	return out
}

// Proto is a compiled chunk, shareable between states.
type Proto = lua.FunctionProto

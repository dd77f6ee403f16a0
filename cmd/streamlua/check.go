package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamlua/streamlua/luaenv"
	"github.com/streamlua/streamlua/scripts"
	"github.com/streamlua/streamlua/shdict"
)

func newCheckCmd() *cobra.Command {
	var packagePath, handler string
	cmd := &cobra.Command{
		Use:   "check [FILES...]",
		Short: "Compile scripts and report syntax errors as file:line: message",
		Long: `Compile the given Lua files, the --handler module, and every .lua file reachable
through the package path (bundled scripts included). Each syntax error is printed
as file:line: message; the exit status is 1 if any file fails.`,
		Example: `  streamlua check examples/echo.lua
  streamlua check --package-path 'lib/?.lua;;' --handler resty.memcached.server`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := luaenv.NewScripts(packagePath, scripts.FS)
			failed, n := 0, 0
			report := func(err error) {
				failed++
				fmt.Fprintln(cmd.OutOrStdout(), err.Error())
			}
			for _, f := range args {
				n++
				if _, err := os.Stat(f); err != nil {
					report(fmt.Errorf("%s: no such file", f))
					continue
				}
				if _, err := s.File(f); err != nil {
					report(err)
				}
			}
			if handler != "" {
				n++
				if _, _, err := s.Find(s.Path(), handler); err != nil {
					var se *luaenv.SyntaxError
					if errors.As(err, &se) {
						report(err)
					} else {
						report(fmt.Errorf("handler %s: %v", handler, err))
					}
				}
			}
			for _, f := range s.PathFiles() {
				n++
				if _, err := s.File(f); err != nil {
					report(err)
				}
			}
			if failed > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d of %d files failed", failed, n)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d files compiled\n", n)
			return nil
		},
	}
	cmd.Flags().StringVar(&packagePath, "package-path", "", "lua_package_path; ';;' splices in the bundled scripts")
	cmd.Flags().StringVar(&handler, "handler", "", "also resolve and compile this module")
	return cmd
}

func newRunCmd() *cobra.Command {
	var code, packagePath string
	var dictFlags []string
	var unsafe bool
	cmd := &cobra.Command{
		Use:   "run [FILE] [ARGS...]",
		Short: "Run Lua once with the ngx API, like OpenResty's resty command",
		Example: `  streamlua run -e 'ngx.say("hello")'
  streamlua run --dict cache=1m script.lua`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code == "" && len(args) == 0 {
				return &exitError{code: 2, msg: "run needs a FILE or -e CODE"}
			}
			var dicts []*shdict.Dict
			for _, d := range dictFlags {
				name, size, err := parseDict(d)
				if err != nil {
					return err
				}
				dd, err := shdict.New(name, size, shdict.Options{})
				if err != nil {
					return fmt.Errorf("dict %s: %v", name, err)
				}
				dicts = append(dicts, dd)
			}
			log, _ := newLogger(cmd.ErrOrStderr(), "info", "text")
			env, err := luaenv.New(luaenv.Config{PackagePath: packagePath, Bundled: scripts.FS, Dicts: dicts, Logger: log, UnsafeLibs: unsafe, Info: &luaenv.Info{Version: version, PID: os.Getpid()}})
			if err != nil {
				return err
			}
			var proto *luaenv.Proto
			if code != "" {
				proto, err = luaenv.Compile(code, "(command line)")
			} else {
				var src []byte
				if src, err = os.ReadFile(args[0]); err == nil {
					proto, err = luaenv.Compile(string(src), args[0])
				}
				args = args[1:]
			}
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			runErr := env.Run(context.Background(), proto, args, os.Stdout)
			// Like resty at exit: pending timers run now with premature = true.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			env.Stop(ctx)
			if runErr != nil {
				return &exitError{code: 1, msg: runErr.Error()}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&code, "eval", "e", "", "Lua code to run")
	cmd.Flags().StringVar(&packagePath, "package-path", "", "lua_package_path; ';;' splices in the bundled scripts")
	cmd.Flags().StringArrayVar(&dictFlags, "dict", nil, "shared dictionary NAME=SIZE; repeatable")
	cmd.Flags().BoolVar(&unsafe, "unsafe-libs", false, "open the io, os and debug libraries")
	return cmd
}

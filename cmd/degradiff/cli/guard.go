package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses shared by every command (documented in the README).
const (
	exitFailure   = 1 // a usage, settings, model or output error
	exitBadInputs = 2 // some inputs could not be used (--skip-bad gives 0)
)

// lastSignal is the number of the signal that interrupted the run, for the
// exit status 128+N that shells and job runners expect (130 for Ctrl-C,
// 143 for SIGTERM).
var lastSignal atomic.Int32

// signalContext returns a context cancelled by Ctrl-C or SIGTERM. After the
// first signal the default handling is restored, so a second one ends the
// process at once even if some step does not watch the context; the next
// run cleans what it leaves behind.
func signalContext() (context.Context, context.CancelFunc) {
	lastSignal.Store(0) // Main may run more than once in a process (tests)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			if n, ok := s.(syscall.Signal); ok {
				lastSignal.Store(int32(n))
			}
			signal.Stop(ch)
			cancel()
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel()
		})
	}
}

// interruptCode is the exit status of a run stopped by a signal.
func interruptCode() int {
	if n := lastSignal.Load(); n > 0 {
		return 128 + int(n)
	}
	return 128 + int(syscall.SIGINT)
}

// interrupted wraps err as the exit status of a run stopped by a signal.
func interrupted(err error) error { return &exitError{code: interruptCode(), err: err} }

// realPath returns p as an absolute path with symbolic links resolved as
// far as it exists, so that two spellings of one folder compare equal.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether path a is b or inside it (both from realPath).
func within(a, b string) bool {
	rel, err := filepath.Rel(b, a)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkSeparate refuses an output folder that is an input folder, lies
// inside one (a rerun would read its own outputs as inputs, and writing or
// merging into it can overwrite the inputs) or holds one. in maps each
// input folder to the flag or argument that names it.
func checkSeparate(outFlag, out string, in [][2]string) error {
	o, err := realPath(out)
	if err != nil {
		return fmt.Errorf("%s %s: %w", outFlag, out, err)
	}
	for _, fi := range in {
		flag, dir := fi[0], fi[1]
		d, err := realPath(dir)
		if err != nil {
			return fmt.Errorf("%s %s: %w", flag, dir, err)
		}
		switch {
		case o == d:
			return fmt.Errorf("%s %s is the same folder as %s %s: choose an output folder outside the inputs", outFlag, out, flag, dir)
		case within(o, d):
			return fmt.Errorf("%s %s is inside %s %s: a rerun would read the outputs as inputs; choose an output folder outside it", outFlag, out, flag, dir)
		case within(d, o):
			return fmt.Errorf("%s %s is inside %s %s: the outputs would be written among the inputs; choose another output folder", flag, dir, outFlag, out)
		}
	}
	return nil
}

// checkWorkers refuses a --workers value below 1 (0 and negative numbers
// used to mean 1 silently).
func checkWorkers(n int) error {
	if n < 1 {
		return fmt.Errorf("--workers: %d must be at least 1", n)
	}
	return nil
}

// checkScaleFlag refuses an explicit --scale below 1: the flag's zero value
// means "the preset's scale" only when the flag is not given.
func checkScaleFlag(cmd *cobra.Command, scale int) error {
	if cmd.Flags().Changed("scale") && scale < 1 {
		return fmt.Errorf("--scale: %d must be at least 1", scale)
	}
	return nil
}

// errNoImages is returned when an input folder holds no image at all.
var errNoImages = errors.New("no images found")

// Package batch runs a per-file job over a folder of images with a fixed
// number of workers, a progress bar, and per-item error reporting: a bad
// file is reported and skipped while the rest of the batch goes on.
package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/degradiff/degradiff/internal/progress"
)

// Item is one input file with its stable name (the key of its random
// streams and of its outputs).
type Item struct {
	Path string
	Name string
}

// Outcome is what a job did with one item.
type Outcome int

// Outcomes of a job.
const (
	Done    Outcome = iota // outputs written
	Skipped                // already complete (resume)
)

// Job processes one item. It returns Skipped when the item's outputs exist
// already, and an error naming the file when it fails.
type Job func(ctx context.Context, it Item) (Outcome, error)

// Failure is an item that failed, with the reason.
type Failure struct {
	Item Item
	Err  error
}

// OutputError marks a job's failure to write its outputs (a full disk, a
// missing permission): not a fault of the input, so --skip-bad must not
// hide it, and it would hit every later item too, so Run stops feeding
// items after one.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// Output marks err (if not nil) as an output error.
func Output(err error) error {
	if err == nil {
		return nil
	}
	return &OutputError{Err: err}
}

// IsOutput reports whether err is (or wraps) an output error.
func IsOutput(err error) bool {
	var oe *OutputError
	return errors.As(err, &oe)
}

// Summary counts what a batch did.
type Summary struct {
	Done, Skipped int
	Failed        []Failure
	Elapsed       time.Duration
	Interrupted   bool // the context was cancelled before all items ran
	// OutputFailed counts the failures that are output errors; after the
	// first one no new item starts.
	OutputFailed int
}

// InputFailed returns the number of failures that are not output errors.
func (s Summary) InputFailed() int { return len(s.Failed) - s.OutputFailed }

// Options configures Run.
type Options struct {
	Workers int       // goroutines; <= 0 means 1
	Log     io.Writer // progress output (nil: none)
	Desc    string    // progress label
	Unit    string    // progress unit, e.g. "img"
	// PerItem is how many progress units one item counts for (default 1).
	PerItem int
}

// Run calls job for every item with opt.Workers goroutines. Items are taken
// in order; results do not depend on the number of workers as long as job
// derives everything from the item alone. When ctx is cancelled, running
// jobs finish and no new ones start.
func Run(ctx context.Context, items []Item, opt Options, job Job) Summary {
	workers := max(opt.Workers, 1)
	per := max(opt.PerItem, 1)
	var bar *progress.Bar
	if opt.Log != nil {
		bar = progress.New(opt.Log, len(items)*per, opt.Desc, opt.Unit)
	}
	start := time.Now()
	var (
		mu      sync.Mutex
		sum     Summary
		wg      sync.WaitGroup
		outFail = make(chan struct{}) // closed on the first output error
	)
	next := make(chan Item)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				select {
				case <-outFail:
					continue // the feed may hand out one more item before it sees the close
				default:
				}
				out, err := safeJob(ctx, job, it)
				mu.Lock()
				switch {
				case err != nil:
					sum.Failed = append(sum.Failed, Failure{it, err})
					if IsOutput(err) {
						if sum.OutputFailed == 0 {
							close(outFail)
						}
						sum.OutputFailed++
					}
				case out == Skipped:
					sum.Skipped++
				default:
					sum.Done++
				}
				mu.Unlock()
				if bar != nil {
					bar.Add(per)
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case <-ctx.Done():
			sum.Interrupted = true
			break feed
		case <-outFail:
			break feed
		case next <- it:
		}
	}
	close(next)
	wg.Wait()
	if bar != nil {
		bar.Finish()
	}
	sort.Slice(sum.Failed, func(i, j int) bool { return sum.Failed[i].Item.Name < sum.Failed[j].Item.Name })
	sum.Elapsed = time.Since(start)
	return sum
}

// safeJob turns a panic inside a job into that item's error, so one bad
// input cannot take the whole batch down.
func safeJob(ctx context.Context, job Job, it Item) (out Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: internal error: %v", it.Path, r)
		}
	}()
	return job(ctx, it)
}

// Report writes the list of failures, one per line.
func (s Summary) Report(w io.Writer) {
	if len(s.Failed) == 0 {
		return
	}
	fmt.Fprintf(w, "%d file(s) failed:\n", len(s.Failed))
	for _, f := range s.Failed {
		fmt.Fprintf(w, "  %v\n", f.Err)
	}
}

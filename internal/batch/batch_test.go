package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRunCountsAndSurvivesPanics(t *testing.T) {
	var items []Item
	for i := 0; i < 20; i++ {
		items = append(items, Item{Path: fmt.Sprintf("f%02d", i), Name: fmt.Sprintf("n%02d", i)})
	}
	var log bytes.Buffer
	sum := Run(context.Background(), items, Options{Workers: 3, Log: &log, Desc: "test", Unit: "img"},
		func(ctx context.Context, it Item) (Outcome, error) {
			switch it.Name {
			case "n03":
				return 0, errors.New("f03: broken")
			case "n07":
				panic("boom")
			case "n10", "n11":
				return Skipped, nil
			}
			return Done, nil
		})
	if sum.Done != 16 || sum.Skipped != 2 || len(sum.Failed) != 2 || sum.Interrupted {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Failed[0].Item.Name != "n03" || !strings.Contains(sum.Failed[1].Err.Error(), "boom") {
		t.Fatalf("failures %+v", sum.Failed)
	}
	var rep bytes.Buffer
	sum.Report(&rep)
	if !strings.Contains(rep.String(), "2 file(s) failed") || !strings.Contains(log.String(), "20/20") {
		t.Fatalf("report %q, progress %q", rep.String(), log.String())
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	items := make([]Item, 100)
	n := 0
	sum := Run(ctx, items, Options{Workers: 1}, func(ctx context.Context, it Item) (Outcome, error) {
		n++
		if n == 5 {
			cancel()
		}
		return Done, nil
	})
	if !sum.Interrupted || sum.Done >= 100 {
		t.Fatalf("summary %+v after cancel", sum)
	}
}

// Issue 12 case 4: a write error is told apart from a bad input, and no
// new item starts after it.
func TestRunOutputErrorStops(t *testing.T) {
	items := make([]Item, 50)
	for i := range items {
		items[i] = Item{Path: fmt.Sprint(i), Name: fmt.Sprintf("n%02d", i)}
	}
	sum := Run(context.Background(), items, Options{Workers: 1}, func(ctx context.Context, it Item) (Outcome, error) {
		switch it.Name {
		case "n01":
			return 0, errors.New("bad input")
		case "n03":
			return 0, Output(errors.New("no space left on device"))
		}
		return Done, nil
	})
	if sum.OutputFailed != 1 || sum.InputFailed() != 1 || sum.Done != 2 {
		t.Fatalf("summary %+v", sum)
	}
	if !IsOutput(fmt.Errorf("wrapped: %w", Output(errors.New("x")))) || IsOutput(errors.New("x")) || Output(nil) != nil {
		t.Fatal("IsOutput/Output")
	}
}

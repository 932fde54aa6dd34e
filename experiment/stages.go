package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/report"
	"github.com/degradiff/degradiff/internal/yamlconf"
	"go.yaml.in/yaml/v3"
)

// Stages runs the stages of an experiment in its output folder, one after
// the other: a stage whose output exists is skipped, so that an
// interrupted run resumes, and the compute time of each is kept in
// StagesFile. The SR bench and the face bench share it.
type Stages struct {
	ctx   context.Context
	dir   string
	log   io.Writer
	times map[string]StageTime
	order []string // stages met by this run, in order
}

// NewStages reads the times of earlier runs from dir/StagesFile.
func NewStages(ctx context.Context, dir string, log io.Writer) (*Stages, error) {
	s := &Stages{ctx: ctx, dir: dir, log: log, times: map[string]StageTime{}}
	p := filepath.Join(dir, StagesFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	var list []StageTime
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): remove it to start the timings afresh", p, err)
	}
	for _, t := range list {
		s.times[t.Name] = t
	}
	return s, nil
}

// Run runs one stage unless done reports its output complete, and records
// its compute time.
func (s *Stages) Run(name string, done func() bool, run func() error) error {
	s.order = append(s.order, name)
	if done() {
		t := s.times[name]
		t.Name, t.Cached = name, true
		s.times[name] = t
		fmt.Fprintf(s.log, "bench: %s: done earlier, skipped\n", name)
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("%w before %s: rerun the same command to resume", ErrInterrupted, name)
	}
	fmt.Fprintf(s.log, "bench: %s ...\n", name)
	start := time.Now()
	if err := run(); err != nil {
		if errors.Is(err, ErrInterrupted) {
			return err
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	el := time.Since(start)
	s.times[name] = StageTime{Name: name, Seconds: el.Seconds(), When: time.Now().UTC().Truncate(time.Second)}
	fmt.Fprintf(s.log, "bench: %s: done in %s\n", name, el.Round(time.Millisecond))
	list := make([]StageTime, 0, len(s.times))
	for _, t := range s.times {
		t.Cached = false
		list = append(list, t)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return atomicfile.WriteJSON(filepath.Join(s.dir, StagesFile), list)
}

// Met reports whether this run has met the stage name.
func (s *Stages) Met(name string) bool {
	for _, n := range s.order {
		if n == name {
			return true
		}
	}
	return false
}

// Times returns the times of the stages this run met, in order.
func (s *Stages) Times() []StageTime {
	var list []StageTime
	for _, name := range s.order {
		if t, ok := s.times[name]; ok {
			list = append(list, t)
		}
	}
	return list
}

// Interrupted returns the error of a stage stopped by the context.
func Interrupted(stage string) error {
	return fmt.Errorf("%w during %s: what is done is kept; rerun the same command to resume", ErrInterrupted, stage)
}

// CheckSettings compares the settings cfg of an experiment (kind names it
// in the error) with those its output folder out recorded in file, by
// their fingerprints (the settings the outputs depend on). Settings an
// earlier run recorded without leaving outputs (binding false: it failed
// on its inputs) do not bind.
func CheckSettings[C any](file, kind, out string, binding bool, cfg C, fingerprint func(C) []byte) error {
	old, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) || !binding {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	var prev C
	if err := yaml.Unmarshal(old, &prev); err != nil {
		return fmt.Errorf("%s is corrupt (%v): remove it or use another --out", file, err)
	}
	if got, want := fingerprint(prev), fingerprint(cfg); !bytes.Equal(got, want) {
		return fmt.Errorf("--out %s holds %s with other settings (%s differ; see %s): use another --out, or the same settings to resume",
			out, kind, strings.Join(yamlconf.DifferingKeys(got, want), ", "), file)
	}
	return nil
}

// TimesSection is the report's table of the compute time of each stage.
func TimesSection(stages []StageTime) report.Section {
	var rows [][]string
	total := 0.0
	for _, t := range stages {
		note := "this run"
		if t.Cached {
			note = "an earlier run"
		}
		when := "-"
		if !t.When.IsZero() {
			when = t.When.Format(time.RFC3339)
		}
		rows = append(rows, []string{t.Name, fmt.Sprintf("%.1f", t.Seconds), when, note})
		total += t.Seconds
	}
	rows = append(rows, []string{"total", fmt.Sprintf("%.1f", total), "", ""})
	return report.Section{
		Title: "Compute time",
		Paras: []string{"Wall-clock seconds of each stage, on the machine that ran it (the report itself is not counted)."},
		Head:  []string{"stage", "seconds", "finished (UTC)", "run by"},
		Rows:  rows,
	}
}

// Package runfolder manages the folder of a training run: its saved
// configuration, checkpoints (written atomically, the last K kept), a JSON
// lines log, and the resume logic shared by every trainer in degradiff.
//
//	RUN/config.yaml                    the configuration, as run
//	RUN/log.jsonl                      one JSON object per logged step
//	RUN/checkpoints/step-00001000/     one folder per checkpoint:
//	    GROUP.safetensors              named tensor groups (model, ema, optimizer, ...)
//	    state.json                     the step and trainer state
//
// A checkpoint folder is built under a temporary name and renamed when
// complete, so a crash never leaves a half-written checkpoint under a real
// name.
package runfolder

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
)

const (
	ckptDir   = "checkpoints"
	ckptPre   = "step-"
	stateFile = "state.json"
	logFile   = "log.jsonl"
)

// Run is an open run folder.
type Run struct {
	Dir string
	// Keep is how many checkpoints to keep (older ones are removed); 0
	// keeps all.
	Keep int

	mu  sync.Mutex
	log *os.File
}

// Create opens dir as a run folder, creating it if needed.
func Create(dir string, keep int) (*Run, error) {
	if err := os.MkdirAll(filepath.Join(dir, ckptDir), 0o755); err != nil {
		return nil, fmt.Errorf("run folder %s: %w", dir, err)
	}
	return &Run{Dir: dir, Keep: keep}, nil
}

// Checkpoint is the saved state of a trainer at a step.
type Checkpoint struct {
	Step int
	// Groups maps a group name ("model", "ema", "optimizer") to its tensors.
	Groups map[string]map[string]*tensor.Tensor
	// State is the trainer's own JSON state (data position, RNG keys, ...).
	State json.RawMessage
}

type stateJSON struct {
	Step   int             `json:"step"`
	Groups []string        `json:"groups"`
	State  json.RawMessage `json:"state,omitempty"`
	// SHA256 maps each group to the hex SHA-256 of its safetensors file,
	// so that flipped bytes in tensor data are found on load (checkpoints
	// written before it was added have none and are not checked).
	SHA256 map[string]string `json:"sha256,omitempty"`
}

// CheckpointPath returns the folder of the checkpoint at step.
func (r *Run) CheckpointPath(step int) string {
	return filepath.Join(r.Dir, ckptDir, fmt.Sprintf("%s%08d", ckptPre, step))
}

// Save writes a checkpoint atomically and prunes old ones.
func (r *Run) Save(ck Checkpoint) (string, error) {
	final := r.CheckpointPath(ck.Step)
	tmp, err := os.MkdirTemp(filepath.Join(r.Dir, ckptDir), ".tmp-"+ckptPre)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	st := stateJSON{Step: ck.Step, State: ck.State, SHA256: map[string]string{}}
	for name, group := range ck.Groups {
		st.Groups = append(st.Groups, name)
		var ts []safetensors.Tensor
		for tn, t := range group {
			ts = append(ts, safetensors.Tensor{Name: tn, Shape: t.Shape, Data: t.Data})
		}
		p := filepath.Join(tmp, name+".safetensors")
		if err := safetensors.Write(p, ts, map[string]string{"step": strconv.Itoa(ck.Step)}); err != nil {
			return "", fmt.Errorf("checkpoint %s: %w", final, err)
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return "", fmt.Errorf("checkpoint %s: %w", final, err)
		}
		st.SHA256[name] = sum
	}
	sort.Strings(st.Groups)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, stateFile), b); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", final, err)
	}
	// Replace an existing checkpoint of the same step (a rerun after a
	// resume from an earlier one).
	if err := os.RemoveAll(final); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", final, err)
	}
	atomicfile.SyncDir(filepath.Join(r.Dir, ckptDir))
	return final, r.Prune()
}

// Steps returns the steps of the complete checkpoints, ascending.
func (r *Run) Steps() ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(r.Dir, ckptDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing checkpoints: %w", err)
	}
	var steps []int
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ckptPre) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), ckptPre))
		if err != nil {
			continue
		}
		steps = append(steps, n)
	}
	sort.Ints(steps)
	return steps, nil
}

// Prune removes the oldest checkpoints beyond Keep. Save prunes after
// each checkpoint; a run killed between the two leaves one too many,
// which the next Prune removes.
func (r *Run) Prune() error {
	if r.Keep <= 0 {
		return nil
	}
	steps, err := r.Steps()
	if err != nil {
		return err
	}
	for len(steps) > r.Keep {
		if err := os.RemoveAll(r.CheckpointPath(steps[0])); err != nil {
			return fmt.Errorf("removing old checkpoint: %w", err)
		}
		steps = steps[1:]
	}
	return nil
}

// Latest returns the newest checkpoint folder of the run, or "" when it
// has none.
func (r *Run) Latest() (string, error) {
	steps, err := r.Steps()
	if err != nil || len(steps) == 0 {
		return "", err
	}
	return r.CheckpointPath(steps[len(steps)-1]), nil
}

// Resolve turns a --resume (or --checkpoint) argument into a checkpoint
// folder; its errors do not name the flag, which the caller adds: "latest" is
// the newest checkpoint of this run; anything else is a path (a checkpoint
// folder, or a run folder whose latest checkpoint is meant).
func (r *Run) Resolve(arg string) (string, error) {
	if arg == "latest" {
		ck, err := r.Latest()
		if err != nil {
			return "", err
		}
		if ck == "" {
			return "", fmt.Errorf("latest: no checkpoint in %s", filepath.Join(r.Dir, ckptDir))
		}
		return ck, nil
	}
	if _, err := os.Stat(filepath.Join(arg, stateFile)); err == nil {
		return arg, nil
	}
	other := &Run{Dir: arg}
	if ck, _ := other.Latest(); ck != "" {
		return ck, nil
	}
	return "", fmt.Errorf("%s: not a checkpoint folder (no %s) nor a run folder with checkpoints", arg, stateFile)
}

// Load reads a checkpoint folder. Every error says which file is wrong.
func Load(dir string) (Checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	var st stateJSON
	if err := json.Unmarshal(b, &st); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: %s is corrupt: %w", dir, stateFile, err)
	}
	var compact bytes.Buffer
	if len(st.State) > 0 {
		json.Compact(&compact, st.State)
	}
	ck := Checkpoint{Step: st.Step, State: compact.Bytes(), Groups: map[string]map[string]*tensor.Tensor{}}
	for _, g := range st.Groups {
		p := filepath.Join(dir, g+".safetensors")
		if want, ok := st.SHA256[g]; ok {
			got, err := fileSHA256(p)
			if err != nil {
				return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", dir, err)
			}
			if got != want {
				return Checkpoint{}, fmt.Errorf("checkpoint %s: %s is corrupt: its SHA-256 is %s, %s records %s", dir, p, got, stateFile, want)
			}
		}
		f, err := safetensors.Open(p)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		group := map[string]*tensor.Tensor{}
		for _, name := range f.Names() {
			data, shape, err := f.Float32(name)
			if err != nil {
				f.Close()
				return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", dir, err)
			}
			if i := firstNonFinite(data); i >= 0 {
				f.Close()
				return Checkpoint{}, fmt.Errorf("checkpoint %s: %s: tensor %s holds a non-finite value (%v at index %d): the run diverged before this checkpoint; resume from an earlier one", dir, p, name, data[i], i)
			}
			group[name] = tensor.FromData(data, shape...)
		}
		f.Close()
		ck.Groups[g] = group
	}
	return ck, nil
}

// firstNonFinite returns the index of the first NaN or infinite value of
// data, or -1.
func firstNonFinite(data []float32) int {
	for i, v := range data {
		if v-v != 0 { // NaN or ±Inf
			return i
		}
	}
	return -1
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RemoveStale removes what a killed run left behind: checkpoint folders
// still under their temporary name and temporary files of interrupted
// writes. Only a run that writes the folder may call it (export reads a
// folder that may be training).
func (r *Run) RemoveStale() error {
	dir := filepath.Join(r.Dir, ckptDir)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("run folder %s: %w", r.Dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-"+ckptPre) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("run folder %s: %w", r.Dir, err)
			}
		}
	}
	_, err = atomicfile.RemoveStale(r.Dir)
	return err
}

// Log appends one JSON object to RUN/log.jsonl.
func (r *Run) Log(v any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log == nil {
		f, err := os.OpenFile(filepath.Join(r.Dir, logFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("log: %w", err)
		}
		r.log = f
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = r.log.Write(append(b, '\n'))
	return err
}

// TruncateLog drops log lines whose "step" is above step, so that a resumed
// run's log continues as if it had never stopped.
func (r *Run) TruncateLog(step int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log != nil {
		r.log.Close()
		r.log = nil
	}
	p := filepath.Join(r.Dir, logFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var s struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Step != nil && *s.Step > step {
			continue
		}
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
	}
	return atomicfile.WriteFile(p, keep.Bytes())
}

// ReadLog returns the objects of RUN/log.jsonl decoded into fresh values of
// the caller's type via decode.
func (r *Run) ReadLog(decode func(line []byte) error) error {
	b, err := os.ReadFile(filepath.Join(r.Dir, logFile))
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	for i, line := range bytes.Split(b, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := decode(line); err != nil {
			return fmt.Errorf("%s line %d: %w", filepath.Join(r.Dir, logFile), i+1, err)
		}
	}
	return nil
}

// Close flushes and closes the log.
func (r *Run) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log != nil {
		err := r.log.Sync()
		r.log.Close()
		r.log = nil
		return err
	}
	return nil
}

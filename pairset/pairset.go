// Package pairset owns the format of BasicSR-style folders of HQ/LQ pairs
// and writes them (package pairread reads them):
//
//	OUT/HR/NAME.png        the high-quality image
//	OUT/LR/NAME_kk.png     variant kk of its low-quality counterpart
//	OUT/LR_init/NAME_kk.png  the initial degradation (optional, synth only)
//	OUT/meta_info.txt      "HR/NAME.png, LR/NAME_kk.png" per pair, as
//	                       Real-ESRGAN's paired-data meta files
//	OUT/manifest.jsonl     one JSON record per pair with every sampled parameter
//	OUT/run.json           the settings the pairs were made with (ClaimRun)
//	OUT/shard.json         the part of a dataset a shard folder holds (Merge)
//
// Every file is written atomically (temporary file, then rename). A pair's LR
// files and records are written before its HR file, so an HR file never
// exists without its LR files, and an interrupted run resumes by skipping
// the items that are complete. Per-pair records live in OUT/.records until
// Finish rebuilds meta_info.txt and manifest.jsonl from them in name order,
// so both files are identical whatever the worker count or order.
package pairset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/degradiff/degradiff/internal/atomicfile"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/raster"
)

// Folder names inside an output folder.
const (
	HRDir      = "HR"
	LRDir      = "LR"
	InitDir    = "LR_init"
	RecordDir  = ".records"
	MetaFile   = "meta_info.txt"
	Manifest   = "manifest.jsonl"
	ShardFile  = "shard.json"
	imageExt   = ".png"
	recordExt  = ".json"
	variantFmt = "%s_%02d"
)

// Writer writes pairs into an output folder.
type Writer struct {
	root string
	// Bits16 writes 16-bit PNGs instead of 8-bit ones.
	Bits16 bool
}

// Create prepares root (creating HR/, LR/ and the record folder) for
// writing pairs, and removes the temporary files that an earlier run
// killed in the middle of a write left there (one process writes a folder
// at a time).
func Create(root string) (*Writer, error) {
	for _, d := range []string{HRDir, LRDir, RecordDir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("output folder %s: %w", root, err)
		}
	}
	if _, err := atomicfile.RemoveStale(root); err != nil {
		return nil, fmt.Errorf("output folder %s: %w", root, err)
	}
	return &Writer{root: root}, nil
}

// ValidName reports whether an item name can be listed in meta_info.txt:
// its readers (degradiff's and BasicSR's) split lines on ", " and on line
// breaks, so names holding those, or other control characters, would make
// the file unparseable.
func ValidName(name string) error {
	if name == "" {
		return errors.New("empty item name")
	}
	if strings.Contains(name, ", ") {
		return fmt.Errorf("item name %q holds \", \" (the separator of meta_info.txt)", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("item name %q holds a control character (%U), which meta_info.txt cannot list", name, r)
		}
	}
	return nil
}

// Root returns the output folder.
func (w *Writer) Root() string { return w.root }

// VariantName returns the LR base name of variant k of item name.
func VariantName(name string, k int) string { return fmt.Sprintf(variantFmt, name, k) }

// Complete reports whether item name already has its HR file, its variants
// LR files and their records, so that a resumed run can skip it.
func (w *Writer) Complete(name string, variants int) bool { return IsComplete(w.root, name, variants) }

// IsComplete reports whether item name is complete in the folder root.
func IsComplete(root, name string, variants int) bool {
	w := &Writer{root: root}
	if !exists(filepath.Join(w.root, HRDir, name+imageExt)) {
		return false
	}
	for k := 0; k < variants; k++ {
		v := VariantName(name, k)
		if !exists(filepath.Join(w.root, LRDir, v+imageExt)) || !exists(filepath.Join(w.root, RecordDir, v+recordExt)) {
			return false
		}
	}
	return true
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Variant is one LR image of an item with its provenance record.
type Variant struct {
	LR   *raster.Image
	Init *raster.Image // optional: the initial degradation, written to LR_init/
	// Record holds every parameter that produced LR. It is marshalled to
	// JSON; the fields "hr", "lr" and "name" are added by the writer.
	Record any
}

// save writes an image atomically, creating its folder (item names may
// contain slashes, recreating the input's subfolders).
func (w *Writer) save(p string, m *raster.Image) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return imageio.Save(p, m, imageio.SaveOptions{Bits16: w.Bits16})
}

// Write stores item name: its variants first, then the HR image, each
// atomically. If any write fails, nothing of the item keeps its final HR
// name, so the item is redone on resume.
func (w *Writer) Write(name string, hr *raster.Image, variants []Variant) error {
	if err := ValidName(name); err != nil {
		return err
	}
	for k, v := range variants {
		base := VariantName(name, k)
		if v.Init != nil {
			if err := w.save(filepath.Join(w.root, InitDir, base+imageExt), v.Init); err != nil {
				return err
			}
		}
		if err := w.save(filepath.Join(w.root, LRDir, base+imageExt), v.LR); err != nil {
			return err
		}
		rec, err := recordJSON(name, base, v.Record)
		if err != nil {
			return fmt.Errorf("%s: record: %w", base, err)
		}
		recPath := filepath.Join(w.root, RecordDir, base+recordExt)
		if err := os.MkdirAll(filepath.Dir(recPath), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", recPath, err)
		}
		if err := WriteFileAtomic(recPath, rec); err != nil {
			return err
		}
	}
	return w.save(filepath.Join(w.root, HRDir, name+imageExt), hr)
}

// recordJSON merges the pair's paths into the caller's record object.
func recordJSON(name, base string, rec any) ([]byte, error) {
	fields := map[string]json.RawMessage{}
	if rec != nil {
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, fmt.Errorf("record must marshal to a JSON object: %w", err)
		}
	}
	put := func(k, v string) { b, _ := json.Marshal(v); fields[k] = b }
	put("name", name)
	put("hr", HRDir+"/"+name+imageExt)
	put("lr", LRDir+"/"+base+imageExt)
	// Marshal sorts map keys, so the line is canonical.
	return json.Marshal(fields)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder and a rename, so path never holds a partial file.
func WriteFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

// Finish rebuilds meta_info.txt and manifest.jsonl from the records of the
// complete pairs, in name order, and returns the number of pairs.
func (w *Writer) Finish() (int, error) { return Rebuild(w.root) }

// Rebuild rewrites meta_info.txt and manifest.jsonl of folder root from its
// records, listing only pairs whose HR and LR files exist.
func Rebuild(root string) (int, error) {
	recs, err := readRecords(root)
	if err != nil {
		return 0, err
	}
	var meta, man bytes.Buffer
	n := 0
	for _, r := range recs {
		if !exists(filepath.Join(root, filepath.FromSlash(r.HR))) || !exists(filepath.Join(root, filepath.FromSlash(r.LR))) {
			continue
		}
		fmt.Fprintf(&meta, "%s, %s\n", r.HR, r.LR)
		man.Write(r.raw)
		man.WriteByte('\n')
		n++
	}
	if err := WriteFileAtomic(filepath.Join(root, MetaFile), meta.Bytes()); err != nil {
		return 0, err
	}
	if err := WriteFileAtomic(filepath.Join(root, Manifest), man.Bytes()); err != nil {
		return 0, err
	}
	return n, nil
}

// record is the part of a pair record that the folder logic needs.
type record struct {
	Name string `json:"name"`
	HR   string `json:"hr"`
	LR   string `json:"lr"`
	raw  []byte
}

func readRecords(root string) ([]record, error) {
	dir := filepath.Join(root, RecordDir)
	var recs []record
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading pair records in %s: %w", dir, err)
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), recordExt) || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("record %s is corrupt: %w", p, err)
		}
		r.raw = bytes.TrimSpace(b)
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].LR < recs[j].LR })
	return recs, nil
}

// ReadManifest returns the records of a finished folder's manifest.jsonl as
// raw JSON objects, in file order.
func ReadManifest(root string) ([]json.RawMessage, error) {
	p := filepath.Join(root, Manifest)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("%s line %d: invalid JSON", p, line)
		}
		out = append(out, append(json.RawMessage(nil), b...))
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return out, nil
}

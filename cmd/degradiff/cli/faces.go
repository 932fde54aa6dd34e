package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/models/faceapi"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
)

// Files of a faces align output folder.
const (
	facesManifest  = "faces.jsonl"
	facesRecordDir = ".records" // one record per source image, until faces.jsonl is rebuilt
	facesRecordExt = ".jsonl"
)

// faceModelsHelp says where the face-api weights come from.
const faceModelsHelp = `the model/ folder of the npm package @vladmandic/face-api 1.7.15:
  npm pack @vladmandic/face-api@1.7.15
  tar xzf vladmandic-face-api-1.7.15.tgz     # then --face-models package/model`

type facesAlignFlags struct {
	in, out, models, method      string
	size, workers                int
	minFace                      float64
	allFaces, overwrite, skipBad bool
	maxPixels                    int64
}

func newFacesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "faces",
		Short: "Face data: aligned FFHQ-style face crops",
		Long: `faces prepares face images for blind face restoration: aligned face crops
(the FFHQ/CelebA-HQ alignment that GFPGAN, CodeFormer and their kin train
and test on) are the unit of face data.

The face analysis networks are those of the npm package
@vladmandic/face-api 1.7.15 (MIT), run in Go from its TensorFlow.js weights,
which are never downloaded: get them once with

  npm pack @vladmandic/face-api@1.7.15
  tar xzf vladmandic-face-api-1.7.15.tgz

and pass --face-models package/model.`,
	}
	cmd.AddCommand(newFacesAlignCmd())
	return cmd
}

func newFacesAlignCmd() *cobra.Command {
	var f facesAlignFlags
	cmd := &cobra.Command{
		Use:   "align --in DIR --out DIR --face-models DIR",
		Short: "Align every face image of a folder to the FFHQ template",
		Long: `align writes one aligned --size x --size face crop (PNG) for every image
under --in (recursively), keeping relative names (OUT/sub/NAME.png):

  * a square image that is already an aligned face crop (its landmarks put
    it within 0.1 of its own FFHQ alignment) is only resized;
  * any other image has its faces detected (tiny face detector at input
    sizes 160, 416 and 1024, those up to twice the image's side), their 68
    landmarks found and refined, and the largest face is aligned to the
    FFHQ template with --method: ffhq (the recipe that made FFHQ, from the
    eyes and mouth corners; the default) or facexlib (GFPGAN's
    FaceRestoreHelper: 5 points onto its 512 template);
  * a nearly aligned square crop in which the detector finds nothing is
    aligned from the landmarks of its fixed chip.

With --all-faces every detected face of at least --min-face pixels is
written, largest first, as NAME_00.png, NAME_01.png, ... Images with no
face, or whose largest face is under --min-face pixels, are reported with
the reason and skipped; the batch goes on, and the exit status is 2 at the
end unless --skip-bad.

OUT/faces.jsonl has one line per output face: the source file, the face's
index, how it was obtained (aligned, detected or chip), the misalignment
score, the detection score and box, the 68 landmarks and the 5 alignment
points in the source image, and the affine map from the source to the
crop (face-api's coordinates, pixel (i, j) covering [i, i+1) x [j, j+1); the
"affine_cv2" map is the same for cv2.warpAffine's pixel centres).

Writes are atomic and a rerun resumes, skipping done images (--overwrite
redoes them); run.json keeps the settings and a rerun with others is
refused.

--face-models: ` + faceModelsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runFacesAlign(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.in, "in", "", "folder of face images (searched recursively)")
	fl.StringVar(&f.out, "out", "", "output folder")
	fl.StringVar(&f.models, "face-models", "", "the model/ folder of @vladmandic/face-api 1.7.15 (npm pack @vladmandic/face-api@1.7.15)")
	fl.IntVar(&f.size, "size", 512, "side of the aligned faces in pixels")
	fl.StringVar(&f.method, "method", "ffhq", "alignment: ffhq (FFHQ's recipe) or facexlib (GFPGAN's 5-point template)")
	fl.BoolVar(&f.allFaces, "all-faces", false, "write every face of an image (NAME_00, NAME_01, ...), not only the largest")
	fl.Float64Var(&f.minFace, "min-face", 32, "smallest face worth aligning: side of its detection box in source pixels")
	fl.IntVar(&f.workers, "workers", runtime.NumCPU(), "images processed at once")
	fl.BoolVar(&f.overwrite, "overwrite", false, "redo images that are already done")
	fl.BoolVar(&f.skipBad, "skip-bad", false, "exit 0 even if some images failed (no face, unreadable)")
	fl.Int64Var(&f.maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this")
	cmd.MarkFlagRequired("in")
	cmd.MarkFlagRequired("out")
	return cmd
}

// faceLine is one line of faces.jsonl.
type faceLine struct {
	Output string `json:"output"`
	Source string `json:"source"`
	Name   string `json:"name"`
	Face   int    `json:"face"`
	// Faces is the number of faces detected in the source (0 when it was
	// an aligned crop or placed from its chip).
	Faces        int                              `json:"faces"`
	How          string                           `json:"how"`
	Misalignment *float64                         `json:"misalignment"`
	Score        *float64                         `json:"detection_score,omitempty"`
	Box          *[4]float64                      `json:"box,omitempty"`
	SourceSize   [2]int                           `json:"source_size"`
	Size         int                              `json:"size"`
	Method       string                           `json:"method"`
	Points5      [5][2]float64                    `json:"points5"`
	Landmarks    [faceapi.NumLandmarks][2]float64 `json:"landmarks68"`
	Affine       faceapi.Affine                   `json:"affine"`
	AffineCV2    faceapi.Affine                   `json:"affine_cv2"`
}

// Ways a face was obtained.
const (
	howAligned  = "aligned"
	howDetected = "detected"
	howChip     = "chip"
)

// facesDetect is the detector setting of faces align: Models.Prepare's
// default, spelled out so that --all-faces detects the same faces.
func facesDetect(w, h int) faceapi.DetectOptions {
	o := faceapi.DetectOptions{Antialias: true}
	for _, s := range []int{160, 416, 1024} {
		if s == 160 || s <= 2*max(w, h) {
			o.Sizes = append(o.Sizes, s)
		}
	}
	return o
}

// loadFaceModels loads the two networks alignment needs from --face-models.
func loadFaceModels(dir string) (*faceapi.Models, map[string]string, error) {
	if dir == "" {
		return nil, nil, fmt.Errorf("--face-models is required: %s", faceModelsHelp)
	}
	fail := func(err error) error {
		return fmt.Errorf("--face-models %s: %v\n--face-models must be %s", dir, strings.TrimPrefix(err.Error(), "faceapi: "), faceModelsHelp)
	}
	if st, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fail(errors.New("no such folder"))
	} else if err != nil {
		return nil, nil, fail(err)
	} else if !st.IsDir() {
		return nil, nil, fail(errors.New("not a folder"))
	}
	det, err := faceapi.LoadDetector(dir)
	if err != nil {
		return nil, nil, fail(err)
	}
	lm, err := faceapi.LoadLandmarkNet(dir)
	if err != nil {
		return nil, nil, fail(err)
	}
	// The weights' identity, for run.json.
	sums := map[string]string{}
	for _, n := range []string{"tiny_face_detector_model", "face_landmark_68_model"} {
		for _, file := range []string{n + "-weights_manifest.json", n + ".bin"} {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				continue // a shard named otherwise: the manifest's sum still identifies it
			}
			s := sha256.Sum256(b)
			sums[file] = hex.EncodeToString(s[:])
		}
	}
	return &faceapi.Models{Detector: det, Landmarks: lm}, sums, nil
}

func runFacesAlign(cmd *cobra.Command, f facesAlignFlags) error {
	stderr := cmd.ErrOrStderr()
	if err := checkWorkers(f.workers); err != nil {
		return err
	}
	if f.size < 8 || f.size > 8192 {
		return fmt.Errorf("--size: %d must be between 8 and 8192", f.size)
	}
	method, err := faceapi.ParseAlignMethod(f.method)
	if err != nil {
		return fmt.Errorf("--method %q: want ffhq or facexlib", f.method)
	}
	if !(f.minFace >= 1) {
		return fmt.Errorf("--min-face: %v must be at least 1", f.minFace)
	}
	if err := checkSeparate("--out", f.out, [][2]string{{"--in", f.in}}); err != nil {
		return err
	}
	models, sums, err := loadFaceModels(f.models)
	if err != nil {
		return err
	}
	items, problems := findItems(f.in)
	if len(items) == 0 {
		if len(problems) > 0 {
			return problems[0]
		}
		return fmt.Errorf("--in %s: %w (PNG, JPEG, WebP, BMP or TIFF files, searched recursively)", f.in, errNoImages)
	}
	abs, err := realPath(f.in)
	if err != nil {
		return fmt.Errorf("--in %s: %w", f.in, err)
	}
	settings := map[string]any{
		"size": f.size, "method": method.String(), "all_faces": f.allFaces, "min_face": f.minFace,
		"max_misalignment": 0.1, "max_chip_misalignment": 0.3,
		"detector":    "tiny face detector, input sizes 160, 416, 1024 (those up to twice the image's larger side), antialiased, score > 0.5",
		"face_models": sums,
	}
	info := pairset.Run{Command: "faces align", Config: settings, PerImage: 1, Inputs: abs, Version: version()}
	if err := checkFacesSettings(f.out, info, f.overwrite); err != nil {
		return err
	}
	// run.json first: settings that cannot be recorded leave no folder.
	if err := pairset.ClaimRun(f.out, info, f.overwrite); err != nil {
		return err
	}
	if _, err := atomicfile.RemoveStale(f.out); err != nil {
		return fmt.Errorf("--out %s: %w", f.out, err)
	}
	fmt.Fprintf(stderr, "faces align: %d images from %s, %dx%d crops, method %s%s\n",
		len(items), f.in, f.size, f.size, method, map[bool]string{true: ", all faces", false: ""}[f.allFaces])

	var (
		mu     sync.Mutex
		counts = map[string]int{}
		faces  int
	)
	ctx, stop := signalContext()
	defer stop()
	opt := imageio.Options{MaxPixels: f.maxPixels}
	sum := batch.Run(ctx, items, batch.Options{Workers: f.workers, Log: stderr, Desc: "faces", Unit: "img"},
		func(ctx context.Context, it batch.Item) (batch.Outcome, error) {
			recPath := filepath.Join(f.out, facesRecordDir, filepath.FromSlash(it.Name)+facesRecordExt)
			old, oldErr := readFaceRecord(recPath)
			if !f.overwrite && oldErr == nil && faceOutputsExist(f.out, old) {
				return batch.Skipped, nil
			}
			img, _, err := imageio.Load(it.Path, opt)
			if err != nil {
				return 0, err
			}
			lines, err := alignImage(models, img, it, f, method)
			if err != nil {
				// Outputs of an earlier run with other settings (--overwrite)
				// must not stay listed.
				if oldErr == nil {
					if rerr := removeFaceOutputs(f.out, recPath, old, nil); rerr != nil {
						return 0, batch.Output(rerr)
					}
				}
				return 0, fmt.Errorf("%s: %s", it.Path, strings.TrimPrefix(err.Error(), "faceapi: "))
			}
			if err := writeFaces(f.out, recPath, lines); err != nil {
				return 0, batch.Output(err)
			}
			if oldErr == nil {
				if err := removeFaceOutputs(f.out, "", old, lines); err != nil {
					return 0, batch.Output(err)
				}
			}
			mu.Lock()
			counts[lines[0].line.How]++
			faces += len(lines)
			mu.Unlock()
			return batch.Done, nil
		})
	n, err := rebuildFaces(f.out)
	if err != nil {
		return finishBatch(stderr, sum, problems, f.skipBad, err)
	}
	fmt.Fprintf(stderr, "faces align: %d images done (%d aligned crops resized, %d detected, %d placed from their chip; %d faces written), %d skipped (already done), %d failed; %d faces in %s; %s\n",
		sum.Done, counts[howAligned], counts[howDetected], counts[howChip], faces, sum.Skipped, len(sum.Failed), n, filepath.Join(f.out, facesManifest), sum.Elapsed.Round(1e7))
	return finishBatch(stderr, sum, problems, f.skipBad, nil)
}

// checkFacesSettings refuses, in the terms of this command, to resume a
// folder of faces aligned with other settings (pairset.ClaimRun says the
// same of pairs, and checks the rest).
func checkFacesSettings(out string, info pairset.Run, overwrite bool) error {
	p := filepath.Join(out, pairset.RunFile)
	old, err := os.ReadFile(p)
	if err != nil || overwrite {
		return nil
	}
	var saved pairset.Run
	if json.Unmarshal(old, &saved) != nil || saved.Command != info.Command {
		return nil
	}
	if saved.Inputs != "" && saved.Inputs != info.Inputs {
		return fmt.Errorf("%s: this folder holds faces of the images in %s, not %s: use another --out, or --overwrite to redo every image", p, saved.Inputs, info.Inputs)
	}
	a, _ := json.Marshal(saved.Config)
	b, _ := json.Marshal(info.Config)
	if ca, err1 := pairset.RunSettings(a); err1 == nil {
		if cb, err2 := pairset.RunSettings(b); err2 == nil && !bytes.Equal(ca, cb) {
			return fmt.Errorf("%s: this folder holds faces aligned with other settings (--size, --method, --all-faces, --min-face or other weights): use another --out, or --overwrite to redo every image", p)
		}
	}
	return nil
}

// alignImage prepares the faces of one image (one, or with --all-faces
// every face of at least --min-face pixels) with their lines.
func alignImage(m *faceapi.Models, img *raster.Image, it batch.Item, f facesAlignFlags, method faceapi.AlignMethod) ([]facePending, error) {
	det := facesDetect(img.W, img.H)
	out, rep, err := m.Prepare(img, faceapi.PrepareOptions{Size: f.size, Method: method, Detect: det, MinFace: f.minFace})
	if err != nil {
		return nil, err
	}
	base := faceLine{Source: it.Path, Name: it.Name, SourceSize: [2]int{img.W, img.H}, Size: f.size, Method: method.String(), Faces: rep.Faces}
	if !math.IsInf(rep.Misalignment, 0) && !math.IsNaN(rep.Misalignment) {
		v := round(rep.Misalignment, 1e4)
		base.Misalignment = &v
	}
	var pend []facePending
	switch {
	case rep.Aligned, rep.FromChip:
		// Prepare does not return these landmarks: find them again, as it
		// does (the networks are deterministic).
		lm := m.Landmarks.AlignedLandmarks(faceapi.FromRaster(img))
		base.How = howAligned
		if rep.FromChip {
			base.How = howChip
			for range 2 {
				if lm, err = m.Landmarks.Refine(img, lm, method); err != nil {
					return nil, err
				}
			}
		}
		l := base
		l.setGeometry(lm, rep.Transform)
		pend = append(pend, facePending{l, out})
	case f.allFaces && rep.Faces > 1:
		all, err := m.AlignFaces(img, faceapi.AlignOptions{Size: f.size, Method: method, Detect: det})
		if err != nil {
			return nil, err
		}
		for _, a := range all {
			if math.Min(a.Detection.Box.W, a.Detection.Box.H) < f.minFace {
				continue
			}
			pend = append(pend, detectedLine(base, &a))
		}
		if len(pend) == 0 {
			return nil, fmt.Errorf("%w: no face of at least %v pixels", faceapi.ErrSmallFace, f.minFace)
		}
	default:
		pend = append(pend, detectedLine(base, rep.Face))
	}
	for i := range pend {
		pend[i].line.Face = i
		name := it.Name
		if f.allFaces {
			name = fmt.Sprintf("%s_%02d", it.Name, i)
		}
		pend[i].line.Output = name + ".png"
	}
	return pend, nil
}

// facePending is one aligned face and its line, before writing.
type facePending struct {
	line faceLine
	img  *raster.Image
}

func detectedLine(base faceLine, a *faceapi.AlignedFace) facePending {
	l := base
	l.How = howDetected
	s := round(a.Detection.Score, 1e4)
	b := a.Detection.Box
	l.Score = &s
	l.Box = &[4]float64{round(b.X, 1e3), round(b.Y, 1e3), round(b.W, 1e3), round(b.H, 1e3)}
	l.setGeometry(a.Landmarks, a.Transform)
	return facePending{l, a.Image}
}

// setGeometry fills the landmarks and the maps of a line.
func (l *faceLine) setGeometry(lm [faceapi.NumLandmarks]faceapi.Point, t faceapi.Affine) {
	for i, p := range lm {
		l.Landmarks[i] = [2]float64{round(p.X, 1e3), round(p.Y, 1e3)}
	}
	for i, p := range faceapi.FivePoints(lm) {
		l.Points5[i] = [2]float64{round(p.X, 1e3), round(p.Y, 1e3)}
	}
	l.Affine = t
	// Pixel centres at integers (OpenCV): t(p + 0.5) - 0.5.
	l.AffineCV2 = faceapi.Affine{t[0], t[1], t[2] + 0.5*(t[0]+t[1]) - 0.5, t[3], t[4], t[5] + 0.5*(t[3]+t[4]) - 0.5}
}

// round rounds v to 1/k (k a power of ten) so that JSON shows it short.
func round(v, k float64) float64 { return math.Round(v*k) / k }

// writeFaces saves the faces, then their record: a record exists only for
// an image whose outputs were all written.
func writeFaces(out, recPath string, faces []facePending) error {
	var rec bytes.Buffer
	for _, p := range faces {
		if err := imageio.Save(filepath.Join(out, filepath.FromSlash(p.line.Output)), p.img, imageio.SaveOptions{}); err != nil {
			return err
		}
		b, err := json.Marshal(p.line)
		if err != nil {
			return err
		}
		rec.Write(b)
		rec.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(recPath), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", recPath, err)
	}
	return atomicfile.WriteFile(recPath, rec.Bytes())
}

// readFaceRecord returns the lines of an image's record.
func readFaceRecord(p string) ([]faceLine, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var lines []faceLine
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var l faceLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("record %s is corrupt: %w", p, err)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("record %s is empty", p)
	}
	return lines, nil
}

func faceOutputsExist(out string, lines []faceLine) bool {
	for _, l := range lines {
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(l.Output))); err != nil {
			return false
		}
	}
	return true
}

// removeFaceOutputs removes the outputs of old lines that keep are not
// writing again, and the record recPath if given.
func removeFaceOutputs(out, recPath string, old []faceLine, keep []facePending) error {
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k.line.Output] = true
	}
	rm := func(p string) error {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if recPath != "" {
		if err := rm(recPath); err != nil {
			return err
		}
	}
	for _, l := range old {
		if !kept[l.Output] && l.Output != "" && !strings.Contains(l.Output, "..") {
			if err := rm(filepath.Join(out, filepath.FromSlash(l.Output))); err != nil {
				return err
			}
		}
	}
	return nil
}

// rebuildFaces writes OUT/faces.jsonl from the records of the images whose
// outputs all exist, in name order (the same whatever --workers), and
// returns the number of faces listed.
func rebuildFaces(out string) (int, error) {
	dir := filepath.Join(out, facesRecordDir)
	var recs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("reading face records in %s: %w", dir, err)
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), facesRecordExt) && !strings.HasPrefix(d.Name(), ".") {
			recs = append(recs, p)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	type entry struct {
		name  string
		lines []faceLine
	}
	var all []entry
	for _, p := range recs {
		lines, err := readFaceRecord(p)
		if err != nil || !faceOutputsExist(out, lines) {
			continue // redone on the next run
		}
		all = append(all, entry{lines[0].Name, lines})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	n := 0
	for _, e := range all {
		for _, l := range e.lines {
			b, err := json.Marshal(l)
			if err != nil {
				return 0, err
			}
			w.Write(b)
			w.WriteByte('\n')
			n++
		}
	}
	w.Flush()
	return n, atomicfile.WriteFile(filepath.Join(out, facesManifest), buf.Bytes())
}

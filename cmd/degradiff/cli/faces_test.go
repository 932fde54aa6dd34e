package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/models/faceapi"
	"github.com/degradiff/degradiff/raster"
)

// The weights flag is checked, and explained, before any image is read.
func TestFacesAlignNeedsModels(t *testing.T) {
	in := makeHQ(t, 1, 32, 32)
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--face-models is required"},
		{[]string{"--face-models", t.TempDir()}, "--face-models " + os.TempDir()},
		{[]string{"--face-models", filepath.Join(t.TempDir(), "absent")}, "absent: no such folder"},
	} {
		code, text := run(t, append([]string{"faces", "align", "--in", in, "--out", out}, tc.args...)...)
		if code != 1 || !strings.Contains(text, tc.want) || !strings.Contains(text, "npm pack @vladmandic/face-api@1.7.15") {
			t.Errorf("%v: exit %d, want 1 with %q and how to get the weights:\n%s", tc.args, code, tc.want, text)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused run created %s", out)
	}
	code, text := run(t, "faces", "align", "--in", in, "--out", filepath.Join(in, "x"), "--face-models", t.TempDir())
	if code != 1 || !strings.Contains(text, "inside --in") {
		t.Errorf("output inside the input: exit %d:\n%s", code, text)
	}
	code, text = run(t, "faces", "align", "--in", in, "--out", out, "--face-models", t.TempDir(), "--method", "dlib")
	if code != 1 || !strings.Contains(text, "--method") {
		t.Errorf("--method dlib: exit %d:\n%s", code, text)
	}
}

// readFaceLines reads OUT/faces.jsonl.
func readFaceLines(t *testing.T, out string) map[string]faceLine {
	t.Helper()
	f, err := os.Open(filepath.Join(out, facesManifest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := map[string]faceLine{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l faceLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("faces.jsonl: %v: %s", err, sc.Text())
		}
		lines[l.Output] = l
	}
	return lines
}

// faceInputs writes a folder of face images from ../shared (never
// committed): an aligned HQ face, an LFW crop (not FFHQ-aligned), two
// aligned faces side by side, and a flat image without a face.
func faceInputs(t *testing.T) string {
	hq := fixture.Dir(t, "data", "hq", "faces", "FFHQ_misc")
	lq := fixture.Dir(t, "data", "real_lq", "faces", "LFW_deepfunneled_subset")
	load := func(p string) *raster.Image {
		m, _, err := imageio.Load(p, imageio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := load(filepath.Join(hq, "diffpir_69037.png"))
	b := load(filepath.Join(hq, "diffpir_69133.png"))
	in := t.TempDir()
	save := func(name string, m *raster.Image) {
		if err := imageio.Save(filepath.Join(in, name), m, imageio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	save("sub/aligned.png", a)
	lfw, err := os.ReadFile(filepath.Join(lq, "AJ_Cook_0001.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "lfw.jpg"), lfw, 0o644); err != nil {
		t.Fatal(err)
	}
	// Two faces, halved to 128 pixels, on a 320x176 gray canvas.
	pair := raster.New(3, 176, 320)
	for i := range pair.Pix {
		pair.Pix[i] = 0.5
	}
	for k, m := range []*raster.Image{a, b} {
		half, err := faceapi.Warp(m, faceapi.Affine{0.5, 0, 0, 0, 0.5, 0}, 128)
		if err != nil {
			t.Fatal(err)
		}
		x0, y0 := 16+k*160, 24
		for c := 0; c < 3; c++ {
			for y := 0; y < 128; y++ {
				copy(pair.Plane(c)[(y0+y)*pair.W+x0:][:128], half.Plane(c)[y*128:][:128])
			}
		}
	}
	save("pair.png", pair)
	flat := raster.New(3, 96, 128)
	for i := range flat.Pix {
		flat.Pix[i] = 0.3
	}
	save("flat.png", flat)
	return in
}

func TestFacesAlign(t *testing.T) {
	models := fixture.Dir(t, "models", "face-api")
	in := faceInputs(t)
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"faces", "align", "--in", in, "--out", out, "--face-models", models, "--size", "128", "--workers", "2"}
	code, text := run(t, args...)
	if code != exitBadInputs || !strings.Contains(text, "flat.png: no face detected") {
		t.Fatalf("exit %d, want %d with flat.png reported:\n%s", code, exitBadInputs, text)
	}
	lines := readFaceLines(t, out)
	if len(lines) != 3 {
		t.Fatalf("%d lines in faces.jsonl, want 3: %v", len(lines), lines)
	}
	for name, how := range map[string]string{"sub/aligned.png": howAligned, "lfw.png": howDetected, "pair.png": howDetected} {
		l, ok := lines[name]
		if !ok || l.How != how || l.Size != 128 || l.Method != "ffhq" {
			t.Errorf("%s: %+v, want obtained %s", name, l, how)
			continue
		}
		m, _, err := imageio.Load(filepath.Join(out, name), imageio.Options{})
		if err != nil || m.W != 128 || m.H != 128 {
			t.Fatalf("%s: %v", name, err)
		}
		// The transform puts the eyes where FFHQ has them (about 0.38 and
		// 0.62 across, 0.47 down).
		le, re := faceapi.Affine(l.Affine).Apply(faceapi.Point{X: l.Points5[0][0], Y: l.Points5[0][1]}),
			faceapi.Affine(l.Affine).Apply(faceapi.Point{X: l.Points5[1][0], Y: l.Points5[1][1]})
		if le.X < 0.3*128 || le.X > 0.45*128 || re.X < 0.55*128 || re.X > 0.7*128 || le.Y < 0.38*128 || le.Y > 0.55*128 {
			t.Errorf("%s: eyes mapped to %v and %v", name, le, re)
		}
		if !strings.HasSuffix(l.Source, filepath.FromSlash(strings.TrimSuffix(name, ".png"))+filepath.Ext(l.Source)) || l.Face != 0 {
			t.Errorf("%s: source %s, face %d", name, l.Source, l.Face)
		}
	}
	if l := lines["pair.png"]; l.Faces != 2 || l.Score == nil || l.Box == nil || l.Misalignment != nil {
		t.Errorf("pair.png: %d faces, score %v, box %v, misalignment %v", l.Faces, l.Score, l.Box, l.Misalignment)
	}
	if l := lines["sub/aligned.png"]; l.Misalignment == nil || *l.Misalignment > 0.1 || l.Affine != (faceapi.Affine{0.5, 0, 0, 0, 0.5, 0}) {
		t.Errorf("aligned crop: misalignment %v, affine %v", l.Misalignment, l.Affine)
	}

	// A rerun resumes: nothing is redone, and --skip-bad gives 0.
	before := digest(t, out)
	code, text = run(t, append(args, "--skip-bad")...)
	if code != 0 || !strings.Contains(text, "3 skipped (already done), 1 failed") {
		t.Fatalf("rerun: exit %d:\n%s", code, text)
	}
	sameTree(t, before, digest(t, out))
	// The same files whatever --workers.
	one := filepath.Join(t.TempDir(), "one")
	if code, text := run(t, "faces", "align", "--in", in, "--out", one, "--face-models", models, "--size", "128", "--workers", "1", "--skip-bad"); code != 0 {
		t.Fatalf("--workers 1: exit %d:\n%s", code, text)
	}
	sameTree(t, before, digest(t, one))
	// Other settings are refused.
	code, text = run(t, append(args[:len(args)-4], "--size", "64")...)
	if code != 1 || !strings.Contains(text, "run.json: this folder holds faces aligned with other settings") {
		t.Errorf("rerun with --size 64: exit %d:\n%s", code, text)
	}

	// Every face, suffixed.
	all := filepath.Join(t.TempDir(), "all")
	code, text = run(t, "faces", "align", "--in", in, "--out", all, "--face-models", models, "--size", "64", "--all-faces", "--method", "facexlib", "--skip-bad")
	if code != 0 {
		t.Fatalf("--all-faces: exit %d:\n%s", code, text)
	}
	lines = readFaceLines(t, all)
	for _, name := range []string{"sub/aligned_00.png", "lfw_00.png", "pair_00.png", "pair_01.png"} {
		if _, err := os.Stat(filepath.Join(all, name)); err != nil || lines[name].Method != "facexlib" {
			t.Errorf("--all-faces: %s: %v, %+v", name, err, lines[name])
		}
	}
	if len(lines) != 4 || lines["pair_01.png"].Face != 1 {
		t.Errorf("--all-faces: %d lines, want 4: %v", len(lines), lines)
	}
}

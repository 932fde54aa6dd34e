// Command prep decodes training images the way degradiff's trainer does
// (imageio.Load: alpha dropped, gray to three channels, EXIF orientation,
// 16-bit to 8-bit) and writes them as 8-bit RGB PNG files into one flat
// folder, so that bench/gputrain/train_ddpm_torch.py trains on exactly the
// pixels the Go trainer would see. With --size S every image is first
// resized to S x S (MATLAB bicubic with antialiasing, as degradiff's
// resizer), for the face model, whose unit is an aligned face.
//
//	go run ./bench/gputrain/prep --out DIR [--size S] [--exclude GLOB]... DIR_OR_FILE...
//
// File names in DIR are the source paths below their folder argument,
// with "/" replaced by "__", so that sources never clash.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
)

type globs []string

func (g *globs) String() string     { return strings.Join(*g, ",") }
func (g *globs) Set(s string) error { *g = append(*g, s); return nil }

func main() {
	out := flag.String("out", "", "output folder")
	size := flag.Int("size", 0, "resize every image to SIZE x SIZE (0: keep)")
	var exclude globs
	flag.Var(&exclude, "exclude", "skip files whose base name matches this glob (repeatable)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: prep --out DIR [--size S] [--exclude GLOB]... DIR_OR_FILE...")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, bad := 0, 0
	for _, root := range flag.Args() {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			base := d.Name()
			if strings.HasSuffix(base, ".txt") || strings.HasSuffix(base, ".md") || strings.HasPrefix(base, ".") {
				return nil
			}
			for _, g := range exclude {
				if ok, _ := filepath.Match(g, base); ok {
					return nil
				}
			}
			m, _, err := imageio.Load(p, imageio.Options{})
			if err != nil {
				fmt.Fprintln(os.Stderr, "skip:", err)
				bad++
				return nil
			}
			if *size > 0 && (m.H != *size || m.W != *size) {
				if m.H != m.W {
					fmt.Fprintf(os.Stderr, "skip: %s: %dx%d is not square, not an aligned face crop\n", p, m.W, m.H)
					bad++
					return nil
				}
				m = resize.Imresize(m, float64(*size)/float64(m.W), true)
			}
			rel, _ := filepath.Rel(filepath.Dir(filepath.Clean(root)), p)
			name := strings.ReplaceAll(strings.TrimSuffix(rel, filepath.Ext(rel)), string(filepath.Separator), "__") + ".png"
			if err := imageio.Save(filepath.Join(*out, name), m.Clamp(), imageio.SaveOptions{}); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("%d images written to %s, %d skipped\n", n, *out, bad)
}

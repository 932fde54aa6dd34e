package imageio_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/raster"
)

// A batch run: find the images of a folder, name them, load them.
func Example() {
	dir, err := os.MkdirTemp("", "imageio-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Make a small folder: two images with the same stem, one in a
	// subfolder, and a text file that Find ignores.
	m := raster.New(3, 4, 6)
	for i := range m.Pix {
		m.Pix[i] = float32(i%7) / 6
	}
	for _, name := range []string{"a.png", "a.jpg", "faces/0001.png"} {
		if err := imageio.Save(filepath.Join(dir, filepath.FromSlash(name)), m, imageio.SaveOptions{}); err != nil {
			log.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644)

	files, problems := imageio.Find(dir)
	for _, p := range problems {
		log.Print(p)
	}
	names, err := imageio.Names(dir, files)
	if err != nil {
		log.Fatal(err)
	}
	for i, f := range files {
		img, info, err := imageio.Load(f, imageio.Options{})
		if err != nil {
			log.Print(err) // names the file and the reason
			continue
		}
		fmt.Printf("%-12s %-4s %dx%d planes=%d\n", names[i], info.Format, img.W, img.H, img.C)
	}
	// Output:
	// a_jpg        jpeg 6x4 planes=3
	// a_png        png  6x4 planes=3
	// faces/0001   png  6x4 planes=3
}

// Errors name the file and wrap a sentinel for errors.Is.
func ExampleLoad_errors() {
	dir, err := os.MkdirTemp("", "imageio-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "empty.png")
	os.WriteFile(path, nil, 0o644)

	_, _, err = imageio.Load(path, imageio.Options{})
	fmt.Println(errors.Is(err, imageio.ErrEmpty))
	var fe *imageio.FileError
	if errors.As(err, &fe) {
		fmt.Println(fe.Op, filepath.Base(fe.Path)+":", fe.Err)
	}
	// Output:
	// true
	// load empty.png: empty file
}

func ExampleNames() {
	root := filepath.FromSlash("/data/lq")
	var files []string
	for _, f := range []string{"a.jpg", "a.png", "faces/0001.png", "faces/0002.webp"} {
		files = append(files, filepath.Join(root, filepath.FromSlash(f)))
	}
	names, err := imageio.Names(root, files)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(names)
	// Output: [a_jpg a_png faces/0001 faces/0002]
}

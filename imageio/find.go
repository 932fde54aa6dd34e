package imageio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// imageExts are the extensions Find accepts without looking at the content.
var imageExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".webp": true,
	".bmp": true, ".tif": true, ".tiff": true,
}

var (
	errNotDir = errors.New("not a folder")
	errLoop   = errors.New("symbolic link back to an enclosing folder, not followed")
)

// Find returns the image files under root, recursively, sorted by their
// slash-separated path relative to root (byte order), so the order is the
// same on every system and run.
//
// A file is listed if its extension is a known image extension (.png,
// .jpg, .jpeg, .webp, .bmp, .tif, .tiff, any case) or if it has no
// extension and its first bytes sniff as a supported format. Its content is
// not checked further; Load reports a bad file. Hidden files and folders
// (name starting with "."), which include Save's temporary files, are
// skipped. Symbolic links are followed, except links back to an enclosing
// folder.
//
// Find does not stop at the first problem: an unreadable folder, a broken
// link or an extensionless file that cannot be read is reported in problems
// (each a *FileError naming the path) and the rest is still listed. If root
// does not exist or is not a folder, that is the only problem.
func Find(root string) (files []string, problems []error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, []error{&FileError{Op: "scan", Path: root, Err: osReason(err)}}
	}
	if !st.IsDir() {
		return nil, []error{&FileError{Op: "scan", Path: root, Err: errNotDir}}
	}
	type item struct{ rel, path string }
	var found []item
	problem := func(p string, err error) {
		problems = append(problems, &FileError{Op: "scan", Path: p, Err: err})
	}

	var walk func(dir, rel string, ancestors []os.FileInfo)
	walk = func(dir, rel string, ancestors []os.FileInfo) {
		// ReadDir returns what it read before an error; keep that too.
		ents, err := os.ReadDir(dir)
		if err != nil {
			problem(dir, osReason(err))
		}
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			p, r := filepath.Join(dir, name), path.Join(rel, name)
			mode := e.Type()
			if mode&fs.ModeSymlink != 0 || mode.IsDir() {
				fi, err := os.Stat(p)
				if err != nil {
					problem(p, fmt.Errorf("cannot follow: %w", osReason(err)))
					continue
				}
				mode = fi.Mode().Type()
				if fi.IsDir() {
					if within(fi, ancestors) {
						problem(p, errLoop)
						continue
					}
					walk(p, r, append(ancestors[:len(ancestors):len(ancestors)], fi))
					continue
				}
			}
			if !mode.IsRegular() {
				continue // devices, pipes, sockets
			}
			ext := filepath.Ext(name)
			switch {
			case imageExts[strings.ToLower(ext)]:
				found = append(found, item{r, p})
			case ext == "":
				ok, err := sniffFile(p)
				if err != nil {
					problem(p, err)
				} else if ok {
					found = append(found, item{r, p})
				}
			}
		}
	}
	walk(root, "", []os.FileInfo{st})

	sort.Slice(found, func(i, j int) bool { return found[i].rel < found[j].rel })
	files = make([]string, len(found))
	for i, it := range found {
		files[i] = it.path
	}
	return files, problems
}

// within reports whether fi is one of the folders being walked.
func within(fi os.FileInfo, ancestors []os.FileInfo) bool {
	for _, a := range ancestors {
		if os.SameFile(fi, a) {
			return true
		}
	}
	return false
}

// sniffFile reports whether the file at p starts like a supported image.
func sniffFile(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, osReason(err)
	}
	defer f.Close()
	var head [16]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, osReason(err)
	}
	return sniff(head[:n]) != "", nil
}

// RelName returns the base item name of the file at p under root: its
// slash-separated path relative to root without the extension, for example
// "faces/0001" for root/faces/0001.png. Names makes these unique.
func RelName(root, p string) (string, error) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("imageio: %s is not inside %s", p, root)
	}
	rel = filepath.ToSlash(rel)
	name := strings.TrimSuffix(rel, path.Ext(rel))
	if name == "" || strings.HasSuffix(name, "/") {
		return "", fmt.Errorf("imageio: %s has no name besides its extension", p)
	}
	return name, nil
}

// Names returns a unique item name for each of files, all under root (as
// Find returns them). Item names key the random streams and name the
// outputs (output folder + name + extension, recreating subfolders), so
// they depend only on the file's place under root and on its neighbours'
// names, never on the order of processing. The rule:
//
//  1. The base name is RelName: "faces/0001.png" gives "faces/0001".
//  2. Files whose base names are equal ignoring case (a.png and a.jpg, or
//     A.png and a.png) each add their extension, lower case, after an
//     underscore: "a_png", "a_jpg"; a file without extension keeps its
//     name. Comparing without case keeps outputs apart on case-insensitive
//     file systems too.
//  3. A name still equal to another ignoring case (a.png, a.PNG, or a
//     a_png.bmp beside a.png and a.jpg) keeps it for its first file in
//     files order; each later file gets the first free of "_2", "_3", ...
//     appended.
func Names(root string, files []string) ([]string, error) {
	base := make([]string, len(files))
	count := map[string]int{}
	for i, f := range files {
		n, err := RelName(root, f)
		if err != nil {
			return nil, err
		}
		base[i] = n
		count[strings.ToLower(n)]++
	}
	cand := make([]string, len(files))
	taken := map[string]bool{} // every candidate, lower case
	for i, n := range base {
		if count[strings.ToLower(n)] > 1 {
			if ext := strings.TrimPrefix(path.Ext(filepath.ToSlash(files[i])), "."); ext != "" {
				n += "_" + strings.ToLower(ext)
			}
		}
		cand[i] = n
		taken[strings.ToLower(n)] = true
	}
	names := make([]string, len(files))
	used := map[string]bool{}
	for i, n := range cand {
		key := strings.ToLower(n)
		if used[key] {
			for k := 2; ; k++ {
				s := n + "_" + strconv.Itoa(k)
				if lk := strings.ToLower(s); !taken[lk] && !used[lk] {
					n, key = s, lk
					break
				}
			}
		}
		used[key] = true
		names[i] = n
	}
	return names, nil
}

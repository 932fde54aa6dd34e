//go:build unix

package imageio

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestFindSpecialFiles checks that an extensionless named pipe is skipped
// (opening it to sniff would block) and that an unreadable folder is
// reported while the rest is listed.
func TestFindSpecialFiles(t *testing.T) {
	root := t.TempDir()
	png := encodePNG(t, testImage(2, 2))
	writeFile(t, root, "a.png", png)
	writeFile(t, root, "locked/b.png", png)
	writeFile(t, root, "z.png", png)
	if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(root, "locked")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(locked, 0o755)

	files, problems := Find(root)
	if os.Geteuid() == 0 {
		// Root reads any folder, so only the pipe can be checked.
		if got := relPaths(t, root, files); !slices.Equal(got, []string{"a.png", "locked/b.png", "z.png"}) || len(problems) != 0 {
			t.Errorf("got %q, %v", got, problems)
		}
		t.Skip("running as root, which may read any folder: cannot test an unreadable folder")
	}
	if got := relPaths(t, root, files); !slices.Equal(got, []string{"a.png", "z.png"}) {
		t.Errorf("files %q", got)
	}
	if len(problems) != 1 {
		t.Fatalf("problems %v, want 1", problems)
	}
	checkFileError(t, problems[0], "scan", locked, os.ErrPermission, []string{"permission denied"})
}

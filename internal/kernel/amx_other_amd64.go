//go:build !noasm && !linux

package kernel

// requestAMX: only Linux is known to hand out the tile registers here.
func requestAMX() bool { return false }

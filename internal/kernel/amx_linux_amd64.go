//go:build !noasm

package kernel

import "syscall"

// requestAMX asks Linux for leave to use the AMX tile data registers
// (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA, Linux 5.16 and
// later): without it the first tile instruction kills the process. The
// leave is the whole process's.
func requestAMX() bool {
	const archReqXcompPerm, xfeatureXtiledata = 0x1023, 18
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}

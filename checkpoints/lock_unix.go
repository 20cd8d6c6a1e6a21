//go:build unix

package checkpoints

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting; the kernel drops it when
// the file is closed or the process ends.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }

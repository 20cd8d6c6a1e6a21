package checkpoints

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockName is the file by which a run holds its folder.
const LockName = ".lock"

// ErrInUse is a folder that another live process holds.
var ErrInUse = errors.New("in use by another run")

// Open takes the folder for this process and tidies it: it creates the folder if need be,
// fails with ErrInUse if another live process holds it (two runs writing one folder would
// delete each other's checkpoints), and removes the temporary files that writes
// interrupted by a crash or a kill left behind (stale returns their paths and bytes). The
// folder stays held until release is called or the process ends, however it ends.
func (s Store) Open() (release func(), stale []string, staleBytes int64, err error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, LockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	if err := lockFile(f); err != nil {
		pid, _ := os.ReadFile(f.Name())
		f.Close()
		return nil, nil, 0, fmt.Errorf("checkpoint: %s: %w (process %s)", s.Dir, ErrInUse, strings.TrimSpace(string(pid)))
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	release = func() { f.Close() } // closing the file drops the lock
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		release()
		return nil, nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	for _, e := range entries {
		if !isTemp(e.Name()) {
			continue
		}
		path := filepath.Join(s.Dir, e.Name())
		if info, err := e.Info(); err == nil {
			staleBytes += info.Size()
		}
		if err := os.Remove(path); err != nil {
			release()
			return nil, nil, 0, fmt.Errorf("checkpoint: removing an interrupted write: %w", err)
		}
		stale = append(stale, path)
	}
	return release, stale, staleBytes, nil
}

// isTemp reports whether name is one of this store's temporary files (internal/atomicfile
// names them .tmp-<final name>-<random>).
func isTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, ".tmp-")
	return ok && (strings.HasPrefix(rest, "step-") || strings.HasPrefix(rest, BestName+"-"))
}

package checkpoints

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A Store keeps a run's checkpoints in a folder: step-NNNNNNNNN.safetensors for the last
// Keep saves, and best.safetensors for the best one.
type Store struct {
	Dir  string
	Keep int // step checkpoints kept; at least 1
}

// BestName is the file name of the best checkpoint.
const BestName = "best.safetensors"

func stepName(step int) string { return fmt.Sprintf("step-%09d.safetensors", step) }

// Save writes c as the checkpoint of step (and as the best one if best), then removes the
// oldest step checkpoints beyond Keep. It returns the path written.
func (s Store) Save(step int, c *Checkpoint, best bool) (string, error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	path := filepath.Join(s.Dir, stepName(step))
	if err := Write(path, c); err != nil {
		return "", err
	}
	if best {
		if err := Write(filepath.Join(s.Dir, BestName), c); err != nil {
			return "", err
		}
	}
	steps, err := s.steps()
	if err != nil {
		return "", err
	}
	for len(steps) > max(s.Keep, 1) {
		if err := os.Remove(filepath.Join(s.Dir, stepName(steps[0]))); err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		steps = steps[1:]
	}
	return path, nil
}

// Latest returns the path of the newest step checkpoint, or "" if there is none.
func (s Store) Latest() (string, error) {
	steps, err := s.steps()
	if err != nil || len(steps) == 0 {
		return "", err
	}
	return filepath.Join(s.Dir, stepName(steps[len(steps)-1])), nil
}

// steps lists the steps of the step checkpoints in the folder, in order. Temporary files
// of interrupted writes do not count.
func (s Store) steps() ([]int, error) {
	entries, err := os.ReadDir(s.Dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var steps []int
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), "step-")
		if name, ok2 := strings.CutSuffix(name, ".safetensors"); ok && ok2 {
			if n, err := strconv.Atoi(name); err == nil {
				steps = append(steps, n)
			}
		}
	}
	sort.Ints(steps)
	return steps, nil
}

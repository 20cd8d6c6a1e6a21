package train

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkOutputs makes sure, before anything is trained, that every output can be written:
// it takes the checkpoint folder (creating it, refusing one another live run holds, and
// removing the temporary files of interrupted writes), and checks that the folders of
// the metrics file and the plot exist and take files.
func (r *runner) checkOutputs() error {
	if dir := r.cfg.CheckpointDir; dir != "" {
		release, stale, bytes, err := r.store().Open()
		if err != nil {
			return fmt.Errorf("-checkpoint-dir: %w", err)
		}
		r.release = release
		if len(stale) > 0 {
			fmt.Fprintf(r.out, "checkpoints: removed %d temporary files of interrupted writes (%.1f MB) from %s\n", len(stale), float64(bytes)/1e6, dir)
		}
	}
	for _, out := range []struct{ flag, path string }{{"-metrics", r.cfg.Metrics}, {"-plot", r.plotPath()}} {
		if out.path == "" {
			continue
		}
		if err := checkWritable(out.path); err != nil {
			return fmt.Errorf("%s: %w", out.flag, err)
		}
	}
	return nil
}

// plotPath is where the curves go: -plot, else the metrics file with .png, else nowhere.
func (r *runner) plotPath() string {
	if r.cfg.Plot == "" && r.cfg.Metrics != "" {
		return r.cfg.Metrics + ".png"
	}
	return r.cfg.Plot
}

// checkWritable reports why a file could not be written at path: its folder is missing or
// takes no files, or path is a folder.
func checkWritable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a folder", path)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("cannot write %s: no folder %s", path, dir)
	} else if !st.IsDir() {
		return fmt.Errorf("cannot write %s: %s is not a folder", path, dir)
	}
	f, err := os.CreateTemp(dir, ".tmp-check-")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

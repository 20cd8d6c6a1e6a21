//go:build !amd64

package cpuinfo

// AMDFamily returns 0: the processor is not an amd64 one.
func AMDFamily() int { return 0 }

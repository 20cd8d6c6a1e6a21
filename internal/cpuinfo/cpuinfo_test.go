package cpuinfo

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestAMDFamilyMatchesProcCPUInfo compares CPUID's answer with the kernel's /proc/cpuinfo.
func TestAMDFamilyMatchesProcCPUInfo(t *testing.T) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil || runtime.GOARCH != "amd64" {
		t.Skip("needs Linux's /proc/cpuinfo on amd64")
	}
	defer f.Close()
	vendor, family := "", -1
	sc := bufio.NewScanner(f)
	for sc.Scan() && (vendor == "" || family < 0) {
		k, v, ok := strings.Cut(sc.Text(), ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
		case k == "vendor_id":
			vendor = v
		case k == "cpu family":
			family, _ = strconv.Atoi(v)
		}
	}
	want := 0
	if vendor == "AuthenticAMD" {
		want = family
	}
	if got := AMDFamily(); got != want {
		t.Errorf("AMDFamily() = %#x, /proc/cpuinfo says %s family %d", got, vendor, family)
	}
}

package cpuinfo

func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// AMDFamily returns the processor's family when it is an AMD one (0x19 is Zen 3 and Zen 4,
// 0x1A Zen 5), else 0.
func AMDFamily() int {
	_, b, c, d := cpuid(0, 0)
	if b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163 { // "AuthenticAMD"
		return 0
	}
	a, _, _, _ := cpuid(1, 0)
	family := int(a>>8) & 0xF
	if family == 0xF {
		family += int(a>>20) & 0xFF
	}
	return family
}

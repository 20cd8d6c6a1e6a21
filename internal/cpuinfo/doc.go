// Package cpuinfo reads what the processor says of itself (CPUID) beyond the feature bits
// that simd/archsimd and the runtime expose: which vendor and family it is, for choices of
// kernel that depend on the microarchitecture.
package cpuinfo

package blas

import (
	"strings"

	"golang.org/x/sys/cpu"
)

// features is what upgradeCore needs to know of a processor.
type features struct {
	avx512 bool // AVX-512 F, CD, BW, DQ and VL, with the OS saving their registers
	bf16   bool // AVX512_BF16 besides
}

func hostFeatures() features {
	x := cpu.X86
	return features{
		avx512: x.HasAVX512F && x.HasAVX512CD && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL,
		bf16:   x.HasAVX512BF16,
	}
}

// avx512Core says whether an OpenBLAS kernel family is one of its AVX-512 ones.
func avx512Core(core string) bool {
	switch strings.ToLower(core) {
	case "skylakex", "cooperlake", "sapphirerapids":
		return true
	}
	return false
}

// upgradeCore returns the OpenBLAS kernel family to run instead of core, the one OpenBLAS
// chose (by itself or as OPENBLAS_CORETYPE told it), or "" to keep it: an AVX-512 family on
// a processor with AVX-512 where core is not one, unless XENT_GEMM (xentGemm) asks for a
// particular GEMM, which keeps OpenBLAS as it was started.
//
// On the Zen 5 machines here OPENBLAS_CORETYPE=Haswell is set in the environment, so
// OpenBLAS 0.3.21 runs its AVX2 kernels; by itself it picks Cooperlake (as on a Zen 4).
// Its Cooperlake kernels ran airbench's products at 177-221 GFLOP/s on one core against
// 89-157 for xent's AVX-512 kernel and 82-110 for Haswell's (BenchmarkSgemmShapes,
// 2026-12-07), and every test passes on them. Cooperlake needs AVX512_BF16; SkylakeX does
// not.
func upgradeCore(core, xentGemm string, f features) string {
	if xentGemm != "" || avx512Core(core) || !f.avx512 {
		return ""
	}
	if f.bf16 {
		return "Cooperlake"
	}
	return "SkylakeX"
}

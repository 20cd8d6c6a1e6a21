package vmath

// SGDMomentum32 applies PyTorch's SGD update with momentum to w, b and g [n], elementwise:
//
//	d = g + wd*w;  b = d (first step) or mu*b + damp*d;  d = d + mu*b (nesterov) or b;  w -= lr*d
//
// Each operation rounds to float32 in this order (no fused multiply-adds), so that the
// AVX-512 kernel and the Go loop agree bit for bit.
func SGDMomentum32(w, g, b []float32, lr, wd, mu, damp float32, nesterov, first bool) {
	if len(g) != len(w) || len(b) != len(w) {
		panic("vmath: SGDMomentum32 lengths differ")
	}
	sgdMomentum32(w, g, b, lr, wd, mu, damp, nesterov, first)
}

var sgdMomentum32 = sgdMomentum32Go

// sgdKernel names the kernel SGDMomentum32 runs: "go", or "avx512" or "avx2" where the SIMD build
// and the processor allow.
var sgdKernel = "go"

func sgdMomentum32Go(w, g, b []float32, lr, wd, mu, damp float32, nesterov, first bool) {
	for j := range w {
		d := g[j] + wd*w[j]
		if first {
			b[j] = d
		} else {
			b[j] = mu*b[j] + damp*d
		}
		if nesterov {
			d += mu * b[j]
		} else {
			d = b[j]
		}
		w[j] -= lr * d
	}
}

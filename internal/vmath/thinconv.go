package vmath

// ThinConv32 writes one image's y [F,HO,WO] = conv(x, w) + bias for x [C,H,W], w
// [F,C,K,K], stride 1 and no padding (HO = H-K+1, WO = W-K+1); bias [F] may be nil. For
// convolutions with few taps C*K*K (airbench's 2x2 whitening of 3 channels has 12), where
// a GEMM's depth is too thin to run fast: each output is the bias plus its taps in (c, i,
// j) order, 16 columns at a time in the AVX-512 build.
func ThinConv32(y, x, w, bias []float32, c, h, wd, k, f int) {
	ho, wo := h-k+1, wd-k+1
	if ho < 1 || wo < 1 || len(x) < c*h*wd || len(w) < f*c*k*k || len(y) < f*ho*wo || bias != nil && len(bias) < f {
		panic("vmath: ThinConv32 sizes do not fit")
	}
	thinConv32(y, x, w, bias, c, h, wd, k, f)
}

var thinConv32 = thinConv32Go

func thinConv32Go(y, x, w, bias []float32, c, h, wd, k, f int) {
	ho, wo := h-k+1, wd-k+1
	for fi := range f {
		b := float32(0)
		if bias != nil {
			b = bias[fi]
		}
		taps := w[fi*c*k*k:][:c*k*k]
		for oy := range ho {
			out := y[(fi*ho+oy)*wo:][:wo]
			for ox := range out {
				acc := b
				t := 0
				for ci := range c {
					for i := range k {
						row := x[(ci*h+oy+i)*wd+ox:]
						for j := range k {
							acc += taps[t] * row[j]
							t++
						}
					}
				}
				out[ox] = acc
			}
		}
	}
}

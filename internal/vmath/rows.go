package vmath

// Block kernels: the same statistics and exponentials over many rows of a row-major
// matrix in one call, so that the AVX-512 build switches between vector and scalar code
// once per block instead of once per row (a row of 10 classes costs about 18 ns alone, and
// a few nanoseconds in a block).

// RowStats32 computes, for each row r of z [R,K] (R = len(m)), m[r] = max_k z[r,k],
// s[r] = sum_k exp(z[r,k] - m[r]) and t[r] = sum_k (z[r,k] - m[r]) in float32, as
// MaxSumExp32 does: t[r] is non-finite, or m[r] infinite, exactly when row r holds a NaN
// or an infinity.
func RowStats32(z []float32, k int, m, s, t []float32) {
	if len(z) != len(m)*k || len(s) != len(m) || len(t) != len(m) {
		panic("vmath: RowStats32 lengths differ")
	}
	rowStats32(z, k, m, s, t)
}

// ExpAffineRows32 writes dst[r,k] = exp(z[r,k] - m[r])*a[r] + b[r] for z, dst [R,K].
func ExpAffineRows32(dst, z []float32, k int, m, a, b []float32) {
	if len(z) != len(m)*k || len(dst) != len(z) || len(a) != len(m) || len(b) != len(m) {
		panic("vmath: ExpAffineRows32 lengths differ")
	}
	expAffineRows32(dst, z, k, m, a, b)
}

var (
	rowStats32      = rowStats32Go
	expAffineRows32 = expAffineRows32Go
)

func rowStats32Go(z []float32, k int, m, s, t []float32) {
	for r := range m {
		mr, sr, tr := maxSumExp32Go(z[r*k : (r+1)*k])
		m[r], s[r], t[r] = mr, float32(sr), float32(tr)
	}
}

func expAffineRows32Go(dst, z []float32, k int, m, a, b []float32) {
	for r := range m {
		expAffine32Go(dst[r*k:(r+1)*k], z[r*k:(r+1)*k], m[r], a[r], b[r])
	}
}

package vmath

// Sum32 returns the sum of x as a float64. The AVX-512 kernel adds in float32, 64 lanes
// (four vectors) at a time, and the lanes in float64 at the end; the Go loop adds in
// float64, in four running sums. Either way the order is fixed, so the result depends only
// on x (and the build).
func Sum32(x []float32) float64 { return sum32(x) }

var sum32 = sum32Go

func sum32Go(x []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a0 += float64(x[i])
		a1 += float64(x[i+1])
		a2 += float64(x[i+2])
		a3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		a0 += float64(x[i])
	}
	return (a0 + a1) + (a2 + a3)
}

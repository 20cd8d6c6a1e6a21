package vmath

import (
	"fmt"
	"testing"
)

func TestAddSpread(t *testing.T) {
	for _, n := range []int{0, 1, 7, 15, 16, 17, 31, 32, 33, 50} {
		for _, extra := range []int{-1, 0, 3} { // the destination just long enough, or longer
			t.Run(fmt.Sprintf("n%d+%d", n, extra), func(t *testing.T) {
				m := max(0, 2*n+extra)
				src := make([]float32, m)
				for i := range src {
					src[i] = float32(i)*0.5 - 3
				}
				dst := make([]float32, n)
				for i := range dst {
					dst[i] = src[2*i]
				}
				acc := make([]float32, m)
				for i := range acc {
					acc[i] = float32(i % 3)
				}
				AddSpread32(acc, dst)
				for i, v := range acc {
					want := float32(i % 3)
					if i%2 == 0 && i/2 < n {
						want += dst[i/2]
					}
					if v != want {
						t.Fatalf("AddSpread32: acc[%d] = %v, want %v", i, v, want)
					}
				}
			})
		}
	}
}

func TestDeinterleave(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 50} {
		src := make([]float32, 2*n)
		for i := range src {
			src[i] = float32(i)*0.25 - 2
		}
		even, odd := make([]float32, n+1), make([]float32, n+1) // one past the end must stay untouched
		even[n], odd[n] = -7, -7
		Deinterleave32(even[:n], odd[:n], src)
		for i := range n {
			if even[i] != src[2*i] || odd[i] != src[2*i+1] {
				t.Fatalf("n %d: even[%d], odd[%d] = %v, %v, want %v, %v", n, i, i, even[i], odd[i], src[2*i], src[2*i+1])
			}
		}
		if even[n] != -7 || odd[n] != -7 {
			t.Fatalf("n %d: wrote past the end", n)
		}
	}
}

func TestInterleave(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 50} {
		even, odd := make([]float32, n), make([]float32, n)
		for i := range n {
			even[i], odd[i] = float32(i)+0.5, -float32(i)
		}
		dst := make([]float32, 2*n+1) // one past the end must stay untouched
		dst[2*n] = -7
		Interleave32(dst[:2*n], even, odd)
		for i := range n {
			if dst[2*i] != even[i] || dst[2*i+1] != odd[i] {
				t.Fatalf("n %d: dst[%d], dst[%d] = %v, %v, want %v, %v", n, 2*i, 2*i+1, dst[2*i], dst[2*i+1], even[i], odd[i])
			}
		}
		if dst[2*n] != -7 {
			t.Fatalf("n %d: wrote past the end", n)
		}
	}
}

package concession

import (
	"fmt"
	"testing"
)

func BenchmarkDecide(b *testing.B) {
	for _, c := range []Curve{Boulware, Linear, Conceder} {
		b.Run(c.String(), func(b *testing.B) {
			st := New(c, 0)
			s := sess(1, 12000, 0, false)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.ID = fmt.Sprint("b-", i%64)
				s.Turn = 1 + i%7
				if _, err := st.Decide(b.Context(), s); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkAdaptiveDecide is one decision of the adaptive strategy at the
// sixth turn of a session, reading five recorded rounds.
func BenchmarkAdaptiveDecide(b *testing.B) {
	a := NewAdaptive([]byte("bench"))
	s := history(9000, []int64{10000, 9800, 9500, 9400, 9000, 8800}, []int64{5600, 5900, 5910, 5920, 5930}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Decide(b.Context(), s); err != nil {
			b.Fatal(err)
		}
	}
}

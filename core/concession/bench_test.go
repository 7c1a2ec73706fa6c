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

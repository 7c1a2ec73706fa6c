package readonce

import "testing"

func TestDigests(t *testing.T) {
	d := New(2)
	a, b := Sum([]byte("a")), Sum([]byte("b"))
	steps := []struct {
		do   func()
		id   string
		sum  [32]byte
		want bool
	}{
		{func() {}, "x", a, false},
		{func() { d.Add("x", a) }, "x", a, true},
		{func() {}, "x", b, false},
		{func() { d.Add("x", b) }, "x", a, false},
		{func() { d.Forget("x") }, "x", b, false},
		{func() { d.Add("y", a); d.Add("z", a); d.Add("w", a) }, "y", a, false}, // past max it starts over
		{func() {}, "w", a, true},
	}
	for i, s := range steps {
		s.do()
		if got := d.Has(s.id, s.sum); got != s.want {
			t.Errorf("step %d: Has(%s) = %v, want %v", i, s.id, got, s.want)
		}
	}
}

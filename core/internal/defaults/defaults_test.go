package defaults

import (
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	tests := []struct {
		v, def, want time.Duration
	}{
		{time.Second, time.Minute, time.Second},
		{0, time.Minute, time.Minute},
		{-time.Second, time.Minute, time.Minute},
		{1, 0, 1},
	}
	for _, tt := range tests {
		if got := Positive(tt.v, tt.def); got != tt.want {
			t.Errorf("Positive(%v, %v) = %v, want %v", tt.v, tt.def, got, tt.want)
		}
	}
	if got := Positive(0, 18); got != 18 {
		t.Errorf("Positive(0, 18) = %d on ints, want 18", got)
	}
}

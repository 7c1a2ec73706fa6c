package bench

import (
	"fmt"
	"testing"
)

func TestPrintReport(t *testing.T) {
	r := RunBenchmark(1, 400, DefaultBuyers())
	fmt.Println(r.Markdown())
	for _, row := range r.Rows {
		fmt.Println(row.Buyer, row.Ends)
	}
}

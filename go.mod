module github.com/clinch-protocol/clinch-mcp

go 1.26.0

require (
	github.com/gowebpki/jcs v1.0.2
	golang.org/x/text v0.43.0
)

require github.com/transparency-dev/merkle v0.0.2 // indirect

// Command kratos is a thin wrapper that builds the real Ory Kratos binary
// from the Go module proxy. Kratos's own go.mod carries local replace
// directives, so `go install github.com/ory/kratos@...` refuses; depending on
// it from this module works.
package main

import (
	"os"

	"github.com/ory/kratos/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}

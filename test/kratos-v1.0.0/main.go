// Command kratos is a thin wrapper that builds the real Ory Kratos v1.0.0 binary
// from the Go module proxy, for the compatibility suite (test/compat). Like
// test/kratos, it exists because Kratos's own go.mod carries local replace
// directives. Unlike v1.3.1, v1.0.0's main registers the SQL driver itself,
// so this wrapper must too (else a sqlite:// DSN fails with "SQLite support
// was not built into the binary"), and cmd.Execute returns nothing.
package main

import (
	"github.com/ory/kratos/cmd"
	"github.com/ory/kratos/driver"
	"github.com/ory/x/dbal"
)

func main() {
	dbal.RegisterDriver(func() dbal.Driver {
		return driver.NewRegistryDefault()
	})
	cmd.Execute()
}

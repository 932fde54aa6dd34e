//go:build !amd64 || noasm

package optim

// adamwVector updates nothing in this build: the Go loop does it all.
func adamwVector(p, g, m, v []float32, c *adamCoef) int { return 0 }

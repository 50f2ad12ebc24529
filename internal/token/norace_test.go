//go:build !race

package token

// allocBound is F6's bound on the bytes one Verify may allocate
// (SECURITY.md: heap delta < 64 KiB for inputs up to 1 MiB).
const allocBound = 64 << 10
